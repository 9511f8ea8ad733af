"""Depth-image and LiDAR lifting in the running node, over rclpy and Fast DDS.

The node (its own process, real ESPNetv2 weights, small network input) serves one KITTI camera
with KITTI's CameraInfo, a depth topic or a LiDAR topic. The sensors see a flat wall at a known
distance (a constant depth image, a plane of LiDAR points), so every car lifted from them lies
at that distance, wherever the car really is: the ranges come from the sensor, not from the
monocular ground-plane estimate (which puts KITTI 0001's cars between about 5 and 40 m).

Range tolerance: the sensor sees the car's face at the wall's distance ``d``; the box extends
from that face away from the sensor by the class prior, so its centre lies between ``d`` and
``d`` + a car's prior length (3.88 m), give or take the 0.3 m DBSCAN radius. Only cars whose 2D
box reaches above the wall's ground line are checked: pixels below it see the wall below the
road (depth) or see no wall point (LiDAR), the lifter drops such points as road, and a car
without sensor points (a close car cut by the image's bottom edge) is lifted monocularly.
"""

import re
import time
from typing import Dict

import numpy as np
import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_fixtures import RunningNode, use_private_domain
from sample_data import sample
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from test_objects_3d import camera_info

from seg_perception.ros.driver import (make_camera_msg, NodeDriver, ns_to_header,
                                       spin_in_background, stop_spinning)
from seg_perception.ros.stream_lifting import SYNC_TOLERANCE_S
from seg_perception.tools.image_source import read_rgb
from seg_perception.tools.lifting_eval import read_kitti_calib

pytestmark = [pytest.mark.ros, pytest.mark.slow]

IMAGE_TOPIC = '/kitti/left/image_raw'
INFO_TOPIC = '/kitti/left/camera_info'
DEPTH_TOPIC = '/kitti/left/depth/image_raw'
LIDAR_TOPIC = '/kitti/velodyne_points'
START_NS = 1_800_000_000_000_000_000
FRAME_NS = 100_000_000  # 10 Hz
CAR_LENGTH_M = 3.88  # SIZE_PRIORS['car'].length
SLACK_M = 0.3  # DBSCAN radius
# ESPNetv2 alone (connected-component instances): these tests are about the lifting paths, and
# their tolerances were set on its instance masks.
SMALL_INPUT = ['-p', 'input_width:=768', '-p', 'input_height:=256', '-p', 'backend:=espnetv2',
               '-p', "detector:=''"]
RELIABLE = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope='module')
def kitti():
    """KITTI tracking 0001's frames (RGB arrays) and its P2."""
    root = sample('sequences', 'kitti_tracking_mini', 'training')
    frames = [read_rgb(p) for p in sorted((root / 'image_02' / '0001').glob('*.png'))]
    return frames, read_kitti_calib(root / 'calib' / '0001.txt')['P2']


def depth_image(metres: float, width: int, height: int, stamp_ns: int, encoding: str) -> Image:
    """Return a constant depth image: 32FC1 metres or 16UC1 millimetres."""
    if encoding == '32FC1':
        values = np.full((height, width), metres, '<f4')
    else:
        values = np.full((height, width), round(metres * 1000.0), '<u2')
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                step=width * values.itemsize)
    msg.data = values.tobytes()
    msg.header = ns_to_header(stamp_ns, 'kitti_cam2')
    return msg


def wall_cloud(distance_m: float, lidar_height_m: float, stamp_ns: int) -> PointCloud2:
    """Points every 0.1 m on the plane x = distance (LiDAR frame), from the ground up to 4 m."""
    y, z = np.meshgrid(np.arange(-20.0, 20.0, 0.1), np.arange(0.0, 4.0, 0.1) - lidar_height_m)
    points = np.stack([np.full(y.size, distance_m), y.ravel(), z.ravel()], axis=1)
    msg = PointCloud2(height=1, width=points.shape[0], is_bigendian=False, point_step=12,
                      row_step=12 * points.shape[0], is_dense=True)
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, n in enumerate('xyz')]
    msg.data = points.astype('<f4').tobytes()
    msg.header = ns_to_header(stamp_ns, 'velodyne')
    return msg


class LiftingSession:
    """The node process, a driver for its camera and publishers of CameraInfo and one sensor."""

    def __init__(self, tmp_path, weights_dir, extra, sensor_type=None, sensor_topic=''):
        self.node = RunningNode([IMAGE_TOPIC], str(weights_dir), tmp_path / 'node.log',
                                extra=SMALL_INPUT + extra)
        rclpy.init()
        self.driver = NodeDriver(IMAGE_TOPIC, ('detections', 'objects_3d'),
                                 node_name='lifting_driver')
        self.info = self.driver.create_publisher(CameraInfo, INFO_TOPIC, RELIABLE)
        self.sensor = (self.driver.create_publisher(sensor_type, sensor_topic, RELIABLE)
                       if sensor_type else None)
        self.spinner = spin_in_background(self.driver)

    def connect(self) -> None:
        assert self.driver.wait_until_connected(120.0), self.node.log()
        deadline = time.monotonic() + 30.0
        publishers = [self.info] + ([self.sensor] if self.sensor else [])
        while any(p.get_subscription_count() == 0 for p in publishers):
            assert time.monotonic() < deadline, self.node.log()
            time.sleep(0.1)

    def frame(self, rgb, stamp_ns: int, info=None, sensor_msg=None, names=None):
        """Publish CameraInfo and sensor message, then the frame; return its outputs or None."""
        if info is not None:
            self.info.publish(info)
        if sensor_msg is not None:
            self.sensor.publish(sensor_msg)
        time.sleep(0.3)  # the node keeps the newest of each; let them arrive before the frame
        msg = make_camera_msg(rgb, ns_to_header(stamp_ns, 'kitti_cam2'))
        return self.driver.send_lockstep(msg, names=names, timeout_s=60.0, retries=1)

    def close(self) -> None:
        self.node.stop()
        stop_spinning(self.spinner)
        self.driver.destroy_node()
        rclpy.try_shutdown()


def lifted_cars(outputs, seen_rows_below: float = np.inf) -> Dict[str, np.ndarray]:
    """Track id -> base (x, y) of the cars in objects_3d whose 2D box top is above a row."""
    tops = {d.id: d.bbox.center.position.y - d.bbox.size_y / 2.0
            for d in outputs.messages['detections'].detections}
    return {d.id: np.array([d.bbox.center.position.x, d.bbox.center.position.y])
            for d in outputs.messages['objects_3d'].detections
            if d.results[0].hypothesis.class_id == 'car' and tops[d.id] < seen_rows_below}


def wall_ground_row(p2: np.ndarray, distance_m: float, camera_height_m: float = 1.65) -> float:
    """Image row of the wall's points 0.2 m (the lifter's road clearance) + 0.1 m above ground.

    Rows below it see only road points of a wall at ``distance_m`` ahead of the camera.
    """
    fy, cy = p2[1, 1], p2[1, 2]
    return cy + (camera_height_m - 0.3) * fy / distance_m


def assert_at_range(cars: Dict[str, np.ndarray], distance_m: float, log: str) -> None:
    """Every car's centre lies between the wall's distance and one car length behind it."""
    positions = np.array(list(cars.values())).reshape(-1, 2)
    print(f'cars seen by the sensor at {distance_m} m: base x, y =', positions.round(2).tolist())
    assert positions.shape[0] >= 2, log  # KITTI 0001's frames 10-20 hold 3-4 such cars
    assert np.all(positions[:, 0] > distance_m - SLACK_M), positions
    assert np.all(positions[:, 0] < distance_m + CAR_LENGTH_M + SLACK_M), positions


def depth_session(tmp_path, weights_dir) -> 'LiftingSession':
    """Start the node lifting with depth from ``DEPTH_TOPIC``, on a private domain."""
    use_private_domain()
    return LiftingSession(tmp_path, weights_dir, ['-p', 'lifting_methods:=[depth]',
                                                  '-p', f'depth_topics:=[{DEPTH_TOPIC}]'],
                          Image, DEPTH_TOPIC)


def log_lines(log: str, pattern: str):
    return [line for line in log.splitlines() if re.search(pattern, line)]


@pytest.mark.timeout(240)
def test_depth_images_in_both_encodings_lift_cars_to_the_depth_and_follow_a_new_calibration(
        kitti, tmp_path, espnetv2_weights_dir):
    frames, p2 = kitti
    height, width = frames[0].shape[:2]
    session = depth_session(tmp_path, espnetv2_weights_dir)
    lifted = {}
    try:
        session.connect()
        steps = [('warm-up', frames[0], p2, '32FC1'), ('32FC1', frames[0], p2, '32FC1'),
                 ('16UC1', frames[1], p2, '16UC1')]
        # A new calibration: focal lengths 1.25x (a zoomed camera), same image size.
        zoomed = p2.copy()
        zoomed[0, 0] *= 1.25
        zoomed[1, 1] *= 1.25
        steps += [('new K', frames[1], zoomed, '32FC1'),
                  ('new K again', frames[2], zoomed, '16UC1')]
        for index, (name, rgb, p, encoding) in enumerate(steps):
            stamp = START_NS + index * FRAME_NS
            outputs = session.frame(rgb, stamp, camera_info(p, width, height, stamp),
                                    depth_image(12.0, width, height, stamp, encoding))
            assert outputs is not None, (name, session.node.log())
            lifted[name] = lifted_cars(outputs, wall_ground_row(p, 12.0))
        assert session.node.alive()
    finally:
        session.close()
    log = session.node.log()
    for name in ('32FC1', '16UC1', 'new K', 'new K again'):
        assert_at_range(lifted[name], 12.0, log)
    # The node took the second CameraInfo and said so.
    calibrations = log_lines(log, r'camera_info \d+x\d+ .*lifting with depth')
    assert len(calibrations) == 2, log
    # Same frame, same 12 m depth, focal length 1.25x: a car's lateral offset y = -(u - cx) z
    # / fx shrinks 1.25x (the same tracks: the frame and its segmentation are the same). The
    # box centre also holds the prior's completion (up to half a car length along the ray),
    # hence 0.4 m; a car 5 m or more to the side moves by 1 m or more.
    common = sorted(set(lifted['16UC1']) & set(lifted['new K']))
    assert len(common) >= 2, (lifted['16UC1'], lifted['new K'])
    y_before = np.array([lifted['16UC1'][i][1] for i in common])
    y_after = np.array([lifted['new K'][i][1] for i in common])
    print('lateral offsets before / after the new K:', y_before, y_after)
    assert np.abs(y_before).max() > 5.0
    np.testing.assert_allclose(y_after, y_before / 1.25, atol=0.4)
    assert not log_lines(log, r'objects_3d (skipped|lifted monocularly)'), log


@pytest.mark.timeout(240)
def test_stale_or_wrong_size_depth_is_warned_about_and_the_node_keeps_serving(
        kitti, tmp_path, espnetv2_weights_dir):
    frames, p2 = kitti
    height, width = frames[0].shape[:2]
    session = depth_session(tmp_path, espnetv2_weights_dir)
    stale_ns = int(5 * SYNC_TOLERANCE_S * 1e9)
    results = {}
    try:
        session.connect()
        steps = [('warm-up', 0, (width, height)), ('synced', 0, (width, height)),
                 ('stale', -stale_ns, (width, height)), ('small', 0, (width // 2, height // 2)),
                 ('synced again', 0, (width, height))]
        for index, (name, offset_ns, (depth_w, depth_h)) in enumerate(steps):
            stamp = START_NS + index * FRAME_NS
            depth = depth_image(30.0, depth_w, depth_h, stamp + offset_ns, '32FC1')
            names = ('detections', 'objects_3d') if name != 'small' else ('detections',)
            outputs = session.frame(frames[0], stamp, camera_info(p2, width, height, stamp),
                                    depth, names)
            assert outputs is not None, (name, session.node.log())
            if name == 'small':
                time.sleep(1.0)  # an objects_3d, if published, would have arrived
            results[name] = outputs
        assert session.node.alive()
    finally:
        session.close()
    log = session.node.log()
    assert_at_range(lifted_cars(results['synced'], wall_ground_row(p2, 30.0)), 30.0, log)
    assert_at_range(lifted_cars(results['synced again'], wall_ground_row(p2, 30.0)), 30.0,
                    log)

    # Stale depth: not used, said so; the cars are lifted monocularly (KITTI 0001's frame 10
    # has cars from about 5 to 40 m: not all within the 30 m wall's band).
    stale = log_lines(log, r'objects_3d lifted monocularly: newest depth image is -0\.500 s')
    assert len(stale) == 1, log
    monocular = np.array(list(lifted_cars(results['stale']).values())).reshape(-1, 2)
    assert monocular.shape[0] >= 2
    assert np.any(monocular[:, 0] < 30.0 - SLACK_M), monocular

    # Depth of another size than the camera: that frame has no objects_3d, a clear warning,
    # and still its 2D outputs.
    assert 'objects_3d' not in results['small'].messages
    assert results['small'].messages['detections'].detections
    assert len(log_lines(log, rf'objects_3d skipped: depth image is {width // 2}x{height // 2} '
                              rf'but camera_info is for {width}x{height}')) == 1, log
    assert not log_lines(log, r'unexpected error|publishing failed'), log


@pytest.mark.timeout(240)
def test_lidar_cloud_of_a_wall_lifts_cars_to_the_wall(kitti, tmp_path, espnetv2_weights_dir):
    frames, p2 = kitti
    height, width = frames[0].shape[:2]
    use_private_domain()
    lidar_pose = [0.5, 0.0, 1.8, 0.0, 0.0, 0.0]  # 0.5 m ahead of the camera, 0.15 m above
    wall_m = 15.0  # in the LiDAR frame: x = 15.5 in base
    session = LiftingSession(tmp_path, espnetv2_weights_dir,
                             ['-p', 'lifting_methods:=[lidar]',
                              '-p', f'lidar_topic:={LIDAR_TOPIC}',
                              '-p', f'lidar_pose:={lidar_pose}'], PointCloud2, LIDAR_TOPIC)
    lifted = []
    try:
        session.connect()
        for index, rgb in enumerate([frames[0], frames[0], frames[1], frames[2]]):
            stamp = START_NS + index * FRAME_NS
            outputs = session.frame(rgb, stamp, camera_info(p2, width, height, stamp),
                                    wall_cloud(wall_m, lidar_pose[2], stamp))
            assert outputs is not None, session.node.log()
            lifted.append(lifted_cars(outputs, wall_ground_row(p2, wall_m + lidar_pose[0])))
        assert session.node.alive()
    finally:
        session.close()
    log = session.node.log()
    for positions in lifted[1:]:
        assert_at_range(positions, wall_m + lidar_pose[0], log)
    assert not log_lines(log, r'objects_3d (skipped|lifted monocularly)'), log
