"""objects_3d and its RViz markers from lifted objects."""

import math

from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from seg_perception import taxonomy
from seg_perception.geometry.lifter import Object3D
from seg_perception.ros.driver import ns_to_header
from seg_perception.ros.messages_3d import markers_3d, objects_3d_msg

CAR = Object3D(track_id=7, class_id=taxonomy.class_id('car'), class_name='car',
               center=(12.0, -1.5, 0.8), size=(3.9, 1.6, 1.5), yaw=math.pi / 2,
               velocity=(3.0, 4.0, 0.0), method='ground_plane', score=0.9)
PARKED = Object3D(track_id=8, class_id=taxonomy.class_id('car'), class_name='car',
                  center=(20.0, 3.0, 0.8), size=(3.9, 1.6, 1.5), yaw=0.0,
                  velocity=(0.0, 0.05, 0.0), method='depth', score=0.6)


def input_header() -> Header:
    return ns_to_header(1_700_000_000_123_456_789, 'camera_optical_frame')


def test_detection3d_per_object_in_base_frame_with_input_stamp():
    msg = objects_3d_msg([CAR, PARKED], input_header(), 'base_link')
    assert msg.header.frame_id == 'base_link'
    assert msg.header.stamp == input_header().stamp
    first = msg.detections[0]
    assert first.id == '7' and first.header.frame_id == 'base_link'
    assert first.results[0].hypothesis.class_id == 'car'
    assert abs(first.results[0].hypothesis.score - 0.9) < 1e-9
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (12.0, -1.5)
    assert (first.bbox.size.x, first.bbox.size.y, first.bbox.size.z) == (3.9, 1.6, 1.5)
    quaternion = first.bbox.center.orientation
    assert math.isclose(2 * math.atan2(quaternion.z, quaternion.w), math.pi / 2)
    assert [d.id for d in msg.detections] == ['7', '8']


def test_markers_box_label_and_arrow_only_when_moving():
    markers = markers_3d([CAR, PARKED], input_header(), 'base_link', '/cam')
    by_id = {m.id: m for m in markers}
    assert set(by_id) == {21, 22, 23, 24, 25}  # 3 * id + (box, label, arrow); parked: no arrow
    assert all(m.ns == '/cam/3d' and m.header.frame_id == 'base_link' for m in markers)
    assert by_id[21].type == Marker.CUBE and by_id[21].scale.x == 3.9
    assert by_id[22].text == 'car #7  5.0 m/s'
    arrow = by_id[23]
    assert arrow.type == Marker.ARROW
    assert (arrow.points[1].x - arrow.points[0].x, arrow.points[1].y - arrow.points[0].y) == \
        (3.0, 4.0)
