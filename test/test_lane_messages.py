"""Lane lines as ROS messages: LaneArray, LINE_STRIP markers, process and render with lanes."""

from fake_segmenters import NoTracker
from lane_scenes import lane_camera, LanePainter
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from seg_perception.lanes.ground import lanes_on_ground
from seg_perception.lanes.structures import LaneLine
from seg_perception.pipeline import Pipeline
from seg_perception.ros import bag_io
from seg_perception.ros.bag_processing import process_bag
from seg_perception.ros.frame_io import result_messages
from seg_perception.ros.lane_messages import lane_markers, lanes_available, lanes_msg
from seg_perception.structures import Frame, FrameResult
from seg_perception.tools import cli, make_bag
from seg_perception.tools.image_source import read_rgb

pytestmark = pytest.mark.skipif(not lanes_available(),
                                reason='seg_perception_msgs not built (scripts/setup.sh)')

STRAIGHT = [(1.75, 0.0, False), (-1.75, 0.0, False), (5.25, 0.0, True)]
START_NS = 1_700_000_000_000_000_000


def _header(stamp_ns=START_NS, frame_id='cam_optical'):
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return header


def _line(lane_id, x_bottom, style='solid', side='other'):
    return LaneLine(coefficients=(-0.4, x_bottom + 0.4 * 360.0), y_top=200.0, y_bottom=360.0,
                    image_points=np.array([[x_bottom, 360.0], [x_bottom + 64.0, 200.0]]),
                    confidence=0.75, style=style, lane_id=lane_id, side=side)


@pytest.mark.timeout(30)
def test_lane_array_keeps_the_header_and_every_field():
    header = _header()
    lines = [_line(4, 200.0, 'dashed', 'ego_left'), _line(9, 450.0)]
    msg = lanes_msg(lines, header, 'base_link')
    assert msg.header == header and msg.base_frame == 'base_link'
    assert [lane.id for lane in msg.lanes] == [4, 9]
    first = msg.lanes[0]
    assert (first.style, first.side) == (first.STYLE_DASHED, first.SIDE_EGO_LEFT)
    assert first.confidence == pytest.approx(0.75)
    assert list(first.curve_coefficients) == pytest.approx([-0.4, 344.0])
    assert [(p.x, p.y) for p in first.image_points] == [(200.0, 360.0), (264.0, 200.0)]
    assert len(first.ground_points) == 0
    # the bag typestore reads what rclpy wrote
    store = bag_io.typestore()
    from rclpy.serialization import serialize_message
    back = store.deserialize_cdr(serialize_message(msg), 'seg_perception_msgs/msg/LaneArray')
    assert [lane.id for lane in back.lanes] == [4, 9]


@pytest.mark.timeout(30)
def test_line_strip_markers_on_the_ground_in_base_frame():
    camera = lane_camera()
    lines = lanes_on_ground(camera, [_line(3, 150.0), _line(5, 500.0)])
    header = _header()
    markers = lane_markers(lines, header, '/cam', 'base_link', (360, 640))
    strips = [m for m in markers if m.type == Marker.LINE_STRIP]
    assert [m.id for m in strips] == [6, 10]
    assert all(m.header.frame_id == 'base_link' and m.header.stamp == header.stamp
               for m in strips)
    assert all(m.ns == '/cam/lanes' for m in markers)
    xs = [p.x for p in strips[0].points]
    assert min(xs) > 0.0 and len(xs) == lines[0].ground_points.shape[0]
    labels = [m.text for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert labels == ['lane #3 solid', 'lane #5 solid']
    # without calibration: on the image plane in the camera's own frame
    flat = lane_markers([_line(3, 150.0)], header, '/cam', 'base_link', (360, 640))
    assert flat[0].header.frame_id == 'cam_optical' and flat[0].points[0].z == 1.0


@pytest.mark.timeout(30)
def test_result_messages_carry_lanes_and_their_markers():
    frame = Frame(np.zeros((360, 640, 3), np.uint8), stamp_ns=START_NS, frame_id='cam_optical')
    result = FrameResult(frame=frame, semantic=np.zeros((360, 640), np.uint8),
                         instances=np.zeros((360, 640), np.uint16),
                         lanes=(_line(2, 300.0),))
    outputs = result_messages(result, _header(), '/cam', base_frame='odom')
    assert [lane.id for lane in outputs['lanes'].lanes] == [2]
    assert outputs['lanes'].header == _header() and outputs['lanes'].base_frame == 'odom'
    assert any(m.type == Marker.LINE_STRIP and m.id == 4 for m in outputs['markers'].markers)


@pytest.mark.timeout(120)
def test_process_writes_lanes_and_render_draws_them(tmp_path):
    camera = lane_camera()
    store = bag_io.typestore()
    bag = tmp_path / 'in'
    with bag_io.open_writer(bag, 'sqlite3') as writer:
        connection = writer.add_connection('/cam/image_raw', bag_io.IMAGE_TYPE, typestore=store)
        for index in range(3):
            msg = make_bag.image_message(np.zeros((360, 640, 3), np.uint8),
                                         START_NS + index * 100_000_000, 'cam', False)
            writer.write(connection, START_NS + index * 100_000_000,
                         store.serialize_cdr(msg, bag_io.IMAGE_TYPE))
    pipeline = Pipeline(LanePainter(camera, STRAIGHT), NoTracker)
    stats = process_bag(bag, tmp_path / 'out', pipeline)
    assert stats.frames == 3 and stats.written['/cam/segmentation/lanes'] == 3
    with bag_io.open_reader(tmp_path / 'out') as reader:
        lanes = [(c, raw) for c, _, raw in reader.messages()
                 if c.topic == '/cam/segmentation/lanes']
    from seg_perception_msgs.msg import LaneArray
    decoded = [deserialize_message(bytes(raw), LaneArray) for _, raw in lanes]
    stamps = [m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec for m in decoded]
    assert stamps == [START_NS + i * 100_000_000 for i in range(3)]
    assert all(len(m.lanes) == 3 for m in decoded)
    assert len({tuple(sorted(lane.id for lane in m.lanes)) for m in decoded}) == 1
    assert cli.main(['render', str(tmp_path / 'out'), str(tmp_path / 'png')]) == 0
    rgb = read_rgb(sorted((tmp_path / 'png').glob('*.png'))[0])
    ego = next(lane for lane in decoded[0].lanes if lane.side == lane.SIDE_EGO_LEFT)
    point = ego.image_points[len(ego.image_points) // 2]
    patch = rgb[int(point.y) - 1:int(point.y) + 2, int(point.x) - 1:int(point.x) + 2]
    assert (patch == (255, 215, 0)).all(axis=-1).any()  # the ego lane's yellow polyline


@pytest.mark.timeout(30)
def test_stream_camera_info_puts_lanes_on_the_ground():
    from sensor_msgs.msg import CameraInfo

    from seg_perception.ros.stream_lifting import StreamLifting
    lifting = StreamLifting('ground_plane', (1.0, 0.0, 1.5, 0.0, 0.03, 0.0))
    assert lifting.camera_for(360, 640) is None
    info = CameraInfo(width=640, height=360, distortion_model='plumb_bob')
    info.k = [512.0, 0.0, 320.0, 0.0, 512.0, 180.0, 0.0, 0.0, 1.0]
    info.d = [0.0] * 5
    lifting.on_camera_info(info)
    assert lifting.camera_for(720, 1280) is None  # another image size: not this calibration
    camera = lifting.camera_for(360, 640)
    reference = lane_camera()  # the same intrinsics and pose
    painted = LanePainter(reference, STRAIGHT).segment([np.zeros((360, 640, 3), np.uint8)])[0]
    from seg_perception.lanes.extractor import LaneExtractor
    from seg_perception import taxonomy
    lines = LaneExtractor().update((360, 640), painted.semantic == taxonomy.class_id(
        'lane_marking'))
    lifted = lanes_on_ground(camera, lines)
    msg = lanes_msg(lifted, _header(), 'base_link')
    offsets = sorted(line.lateral_offset_at(10.0) for line in lifted)
    assert np.allclose(offsets, [-1.75, 1.75, 5.25], atol=0.3)
    assert all(len(lane.ground_points) >= 2 and lane.ground_points[0].x > 0
               for lane in msg.lanes)
    assert {lane.side for lane in msg.lanes} == {0, 1, 2}
