"""vision_msgs and RViz messages built from core results."""

import numpy as np
from std_msgs.msg import Header

from seg_perception import taxonomy
from seg_perception.ros.messages import detections_msg, label_info_msg, markers_msg
from seg_perception.structures import Frame, FrameResult, TrackedObject


def _result():
    frame = Frame(image=np.zeros((100, 200, 3), np.uint8), stamp_ns=5, frame_id='cam')
    objects = (TrackedObject(7, taxonomy.class_id('car'), 0.9, (10.0, 20.0, 50.0, 60.0)),
               TrackedObject(70000, taxonomy.class_id('person'), 0.6, (100.0, 0.0, 110.0, 30.0)))
    return FrameResult(frame=frame, semantic=np.zeros((100, 200), np.uint8),
                       instances=np.zeros((100, 200), np.uint16), objects=objects)


def test_detections_carry_track_id_class_name_score_and_pixel_box():
    header = Header(frame_id='cam')
    header.stamp.sec, header.stamp.nanosec = 3, 4
    msg = detections_msg(_result(), header)
    assert msg.header.frame_id == 'cam' and msg.header.stamp.nanosec == 4
    car, person = msg.detections
    assert (car.id, person.id) == ('7', '70000')
    assert car.results[0].hypothesis.class_id == 'car'
    assert abs(car.results[0].hypothesis.score - 0.9) < 1e-9
    assert (car.bbox.center.position.x, car.bbox.center.position.y) == (30.0, 40.0)
    assert (car.bbox.size_x, car.bbox.size_y) == (40.0, 40.0)
    assert person.header.stamp.sec == 3


def test_markers_clear_then_outline_and_label_each_object():
    markers = markers_msg(_result(), Header(frame_id='cam'), '/cam').markers
    assert markers[0].action == markers[0].DELETEALL
    texts = sorted(m.text for m in markers if m.type == m.TEXT_VIEW_FACING)
    assert texts == ['car #7', 'person #70000']
    outline = next(m for m in markers if m.type == m.LINE_STRIP and m.id == 14)
    assert len(outline.points) == 5 and outline.points[0] == outline.points[-1]
    assert all(p.z == 1.0 for p in outline.points)
    assert len({m.id for m in markers[1:]}) == 4


def test_label_info_lists_classes_then_unlabeled():
    msg = label_info_msg([15, 0, 13], Header().stamp)
    assert [(c.class_id, c.class_name) for c in msg.class_map] == [
        (0, 'road'), (13, 'person'), (15, 'car'), (255, 'unlabeled')]
