"""Property-based tests (hypothesis): malformed sensor messages give a clear error, never a crash.

Each conversion either returns arrays with the documented shape, dtype and value range, or
raises its module's ``ValueError`` subclass with a reason; the node's own input path counts the
rejection and goes on; stamps going backwards reset a tracker without ever reusing an id.
"""

import cv2
from fake_segmenters import BoxSegmenter
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from ros_fixtures import use_private_domain
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField

from seg_perception.pipeline import Pipeline
from seg_perception.ros.conversions import (compressed_msg_to_rgb, image_msg_to_rgb,
                                            ImageConversionError, SUPPORTED_ENCODINGS)
from seg_perception.ros.node import SegmentationNode
from seg_perception.ros.sensor_conversions import (camera_info_to_calibration,
                                                   depth_msg_to_metres, pointcloud2_to_xyz,
                                                   SensorConversionError)
from seg_perception.structures import Frame
from seg_perception.tracking import Tracker, TrackerConfig

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])
ENCODINGS = st.sampled_from(SUPPORTED_ENCODINGS + ('32FC1', '16UC1', 'rgb9', '', 'jpeg'))
# sizes around the interesting edges: zero, small, and headers claiming huge images
SIDES = st.one_of(st.integers(0, 9), st.sampled_from([2 ** 16, 2 ** 31 - 1, 2 ** 32 - 1]))
STEPS = st.one_of(st.integers(0, 64), st.sampled_from([2 ** 31 - 1, 2 ** 32 - 1]))
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def image_messages(draw):
    """Image messages with any encoding, size, step and data length, many malformed."""
    msg = Image()
    msg.encoding = draw(ENCODINGS)
    msg.height, msg.width, msg.step = draw(SIDES), draw(SIDES), draw(STEPS)
    msg.is_bigendian = draw(st.integers(0, 1))
    msg.data = draw(st.binary(max_size=400))
    return msg


@given(image_messages())
@PROPERTY_SETTINGS
def test_any_image_message_converts_or_names_the_problem(msg):
    try:
        rgb = image_msg_to_rgb(msg)
    except ImageConversionError as error:
        assert str(error)
        return
    assert rgb.dtype == np.uint8 and rgb.shape == (msg.height, msg.width, 3)


def _jpeg() -> bytes:
    gradient = np.tile(np.arange(32, dtype=np.uint8), (24, 1))
    return cv2.imencode('.jpg', np.dstack([gradient] * 3))[1].tobytes()


JPEG = _jpeg()


@given(st.one_of(st.binary(max_size=300),
                 st.integers(0, len(JPEG)).map(lambda n: JPEG[:n]),
                 st.tuples(st.integers(0, len(JPEG) - 1), st.integers(0, 255)).map(
                     lambda spot: JPEG[:spot[0]] + bytes([spot[1]]) + JPEG[spot[0] + 1:])),
       st.sampled_from(['jpeg', 'png', 'rgb8; jpeg compressed bgr8', '']))
@PROPERTY_SETTINGS
def test_any_compressed_image_decodes_or_names_the_problem(data, image_format):
    msg = CompressedImage(format=image_format)
    msg.data = data
    try:
        rgb = compressed_msg_to_rgb(msg)
    except ImageConversionError as error:
        assert 'compressed image' in str(error)
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.size > 0


@given(st.integers(0, 4000), st.integers(0, 4000), st.lists(FLOATS, min_size=9, max_size=9),
       st.lists(FLOATS, max_size=14), st.lists(FLOATS, min_size=12, max_size=12),
       st.booleans())
@PROPERTY_SETTINGS
def test_any_camera_info_gives_usable_intrinsics_or_names_the_problem(width, height, k, d, p,
                                                                      valid_k):
    if valid_k:  # half the cases get a plausible K, so the accepting branch is exercised
        k = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
        p = [500.0, 0.0, 320.0, 0.0, 0.0, 500.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg = CameraInfo(width=width, height=height, k=k, d=d, p=p, distortion_model='plumb_bob')
    try:
        calibration = camera_info_to_calibration(msg)
    except SensorConversionError as error:
        assert str(error).startswith('camera_info: ')
        return
    assert calibration.width > 0 and calibration.height > 0
    assert np.isfinite(calibration.camera_matrix()).all() and calibration.k[0] > 0
    assert len(calibration.d) == len(d) and np.isfinite(calibration.d).all()


@given(st.sampled_from(['16UC1', '32FC1', 'mono16', 'rgb8', '8UC1']), st.integers(0, 6),
       st.integers(0, 6), st.integers(0, 3), st.integers(0, 1), st.data())
@PROPERTY_SETTINGS
def test_any_depth_image_gives_metres_or_nan_or_names_the_problem(encoding, height, width, pad,
                                                                  bigendian, data):
    float_depth = encoding == '32FC1'
    order = '>' if bigendian else '<'
    dtype = np.dtype('f4' if float_depth else 'u2').newbyteorder(order)
    values = np.array(data.draw(st.lists(
        st.floats(width=32) if float_depth else st.integers(0, 65535),
        min_size=height * width, max_size=height * width)), dtype=dtype).reshape(height, width)
    rows = np.hstack([values.view(np.uint8).reshape(height, width * dtype.itemsize),
                      np.zeros((height, pad), np.uint8)])
    msg = Image(encoding=encoding, height=height, width=width, is_bigendian=bigendian,
                step=width * 4 + pad if float_depth else width * 2 + pad)
    cut = data.draw(st.integers(0, 3))
    msg.data = rows.tobytes()[:max(0, rows.size - cut)] if data.draw(st.booleans()) \
        else rows.tobytes()
    try:
        metres = depth_msg_to_metres(msg)
    except SensorConversionError as error:
        assert 'depth image' in str(error)
        return
    assert metres.dtype == np.float32 and metres.shape == (height, width)
    expected = values.astype(np.float64) / (1.0 if float_depth else 1000.0)
    valid = np.isfinite(expected) & (expected > 0)
    np.testing.assert_allclose(metres[valid], expected[valid], rtol=1e-6)
    assert np.isnan(metres[~valid]).all()


FIELD_TYPES = st.sampled_from([PointField.FLOAT32, PointField.FLOAT64, PointField.UINT8,
                               PointField.INT32])


@st.composite
def point_clouds(draw):
    """PointCloud2 messages with random layouts; half of them consistent, half malformed."""
    count = draw(st.integers(0, 8))
    datatype = draw(st.sampled_from([PointField.FLOAT32, PointField.FLOAT64]))
    size = 4 if datatype == PointField.FLOAT32 else 8
    point_step = 3 * size + draw(st.integers(0, 5))
    bigendian = draw(st.booleans())
    points = np.array(draw(st.lists(st.tuples(FLOATS, FLOATS, FLOATS), min_size=count,
                                    max_size=count)), dtype=np.float64).reshape(count, 3)
    dtype = np.dtype('f4' if size == 4 else 'f8').newbyteorder('>' if bigendian else '<')
    buffer = np.zeros((count, point_step), np.uint8)
    for axis in range(3):
        with np.errstate(over='ignore', invalid='ignore'):
            buffer[:, axis * size:(axis + 1) * size] = \
                points[:, axis].astype(dtype).view(np.uint8).reshape(count, size)
    fields = [PointField(name=name, offset=axis * size, datatype=datatype, count=1)
              for axis, name in enumerate('xyz')]
    msg = PointCloud2(height=1, width=count, point_step=point_step, row_step=count * point_step,
                      is_bigendian=bigendian, is_dense=False, fields=fields)
    msg.data = buffer.tobytes()
    intact = not draw(st.booleans())
    if not intact:  # break something
        what = draw(st.sampled_from(['field', 'datatype', 'offset', 'row_step', 'data',
                                     'width']))
        if what == 'field':
            msg.fields = fields[:draw(st.integers(0, 2))]
        elif what == 'datatype':
            fields[0].datatype = draw(FIELD_TYPES)
        elif what == 'offset':
            fields[2].offset = draw(st.integers(0, 64))
        elif what == 'row_step':
            msg.row_step = draw(st.integers(0, 2 ** 32 - 1))
        elif what == 'data':
            msg.data = bytes(msg.data)[:draw(st.integers(0, len(msg.data)))]
        else:
            msg.width = draw(st.sampled_from([count + 1, 2 ** 31 - 1]))
    with np.errstate(over='ignore'):
        return msg, points.astype(dtype).astype(np.float32), intact


@given(point_clouds())
@PROPERTY_SETTINGS
def test_any_point_cloud_gives_finite_points_or_names_the_problem(cloud):
    msg, points, intact = cloud
    try:
        xyz = pointcloud2_to_xyz(msg)
    except SensorConversionError as error:
        assert 'point cloud' in str(error)
        return
    assert xyz.dtype == np.float32 and xyz.ndim == 2 and xyz.shape[1] == 3
    assert np.isfinite(xyz).all()
    if intact:
        expected = points[np.isfinite(points).all(axis=1)]
        np.testing.assert_array_equal(xyz, expected)


@pytest.fixture(scope='module')
def configured_node():
    use_private_domain()
    rclpy.init()
    node = SegmentationNode(
        segmenter_factory=lambda settings: BoxSegmenter(),
        parameter_overrides=[Parameter('image_topics', value=['/prop/image_raw']),
                             Parameter('autostart', value=False)])
    if not node.autostart():
        raise RuntimeError(node.last_error)
    yield node
    node.shutdown_work()
    node.destroy_node()
    rclpy.try_shutdown()


@given(image_messages())
@PROPERTY_SETTINGS
def test_the_node_counts_each_bad_frame_and_keeps_each_good_one(configured_node, msg):
    stream = configured_node.streams[0]
    rejected = stream.stats.totals['rejected']
    frame = configured_node._to_frame(stream, msg)
    if frame is None:
        assert stream.stats.totals['rejected'] == rejected + 1
        assert stream.stats.last_error
    else:
        assert isinstance(frame, Frame) and frame.size == (msg.height, msg.width)
        assert stream.stats.totals['rejected'] == rejected


@given(st.lists(st.integers(0, 10 ** 12), min_size=1, max_size=25))
@settings(max_examples=60, deadline=None)
def test_stamps_going_backwards_reset_the_tracker_and_never_reuse_an_id(stamps_ms):
    pipeline = Pipeline(BoxSegmenter(), lambda: Tracker(TrackerConfig(confirm_hits=1)))
    image = np.zeros((16, 24, 3), np.uint8)
    ids_by_reset_epoch = []
    previous = None
    for stamp_ms in stamps_ms:
        result = pipeline.process(Frame(image=image, stamp_ns=stamp_ms * 1_000_000,
                                        camera='/cam'))
        went_back = previous is not None and stamp_ms < previous
        assert bool(result.warnings) == went_back
        if went_back or not ids_by_reset_epoch:
            ids_by_reset_epoch.append(set())
        ids_by_reset_epoch[-1].update(obj.track_id for obj in result.objects)
        previous = stamp_ms
    for earlier, later in zip(ids_by_reset_epoch, ids_by_reset_epoch[1:]):
        assert not earlier & later  # an id given before a reset is never given after it
