"""StreamLifting (the node's per-camera 3D lifting state) on messages, without a ROS graph."""

from types import SimpleNamespace

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from seg_perception import taxonomy
from seg_perception.pipeline import instance_value
from seg_perception.ros.driver import ns_to_header
from seg_perception.ros.sensor_conversions import SensorConversionError
from seg_perception.ros.stream_lifting import StreamLifting, SYNC_TOLERANCE_S
from seg_perception.structures import TrackedObject

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]

WIDTH, HEIGHT = 160, 120
FRAME_NS = 5_000_000_000
POSE = (0.0, 0.0, 1.5, 0.0, 0.0, 0.0)


def camera_info() -> CameraInfo:
    """Return a pinhole CameraInfo of WIDTH x HEIGHT with fx = fy = 100."""
    k = [100.0, 0.0, WIDTH / 2.0, 0.0, 100.0, HEIGHT / 2.0, 0.0, 0.0, 1.0]
    return CameraInfo(width=WIDTH, height=HEIGHT, distortion_model='plumb_bob', d=[0.0] * 5,
                      k=k, r=np.eye(3).reshape(-1).tolist(),
                      p=[k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0])


def depth_msg(metres: float, width: int, height: int, stamp_ns: int) -> Image:
    """Return a constant 32FC1 depth image."""
    msg = Image(width=width, height=height, encoding='32FC1', step=4 * width)
    msg.data = np.full((height, width), metres, '<f4').tobytes()
    msg.header = ns_to_header(stamp_ns, 'cam')
    return msg


def frame_result(stamp_ns: int):
    """Return a result with one car (track 7) filling a box above the horizon (duck-typed)."""
    instances = np.zeros((HEIGHT, WIDTH), np.uint16)
    instances[40:60, 60:100] = instance_value(7)
    car = TrackedObject(track_id=7, class_id=taxonomy.class_id('car'), score=0.9,
                        bbox=(60.0, 40.0, 100.0, 60.0))
    return SimpleNamespace(instances=instances, objects=(car,),
                           frame=SimpleNamespace(stamp_ns=stamp_ns))


def depth_lifting(depth=None) -> StreamLifting:
    lifting = StreamLifting('depth', POSE)
    assert lifting.on_camera_info(camera_info())
    if depth is not None:
        lifting.on_depth(depth)
    return lifting


def test_synced_depth_lifts_to_its_range_and_unsynced_reason_is_empty():
    lifting = depth_lifting(depth_msg(10.0, WIDTH, HEIGHT, FRAME_NS + 50_000_000))
    assert lifting.unsynced_reason(FRAME_NS) == ''
    (car,) = lifting.lift(frame_result(FRAME_NS))
    assert car.method == 'depth' and 10.0 <= car.center[0] <= 10.0 + 3.88


def test_missing_or_stale_depth_is_explained_and_lifted_monocularly():
    assert depth_lifting().unsynced_reason(FRAME_NS) == 'no depth image received yet'
    offset_ns = int(3 * SYNC_TOLERANCE_S * 1e9)
    lifting = depth_lifting(depth_msg(10.0, WIDTH, HEIGHT, FRAME_NS - offset_ns))
    assert lifting.unsynced_reason(FRAME_NS) == (
        f'newest depth image is -0.300 s from the frame (tolerance {SYNC_TOLERANCE_S} s)')
    (car,) = lifting.lift(frame_result(FRAME_NS))
    assert car.method == 'ground_plane'
    assert StreamLifting('ground_plane', POSE).unsynced_reason(FRAME_NS) == ''


def test_depth_of_another_size_than_the_camera_is_a_conversion_error():
    lifting = depth_lifting(depth_msg(10.0, WIDTH // 2, HEIGHT // 2, FRAME_NS))
    with pytest.raises(SensorConversionError,
                       match=f'depth image is 80x60 but camera_info is for {WIDTH}x{HEIGHT}'):
        lifting.lift(frame_result(FRAME_NS))
