"""objects_3d from the running node: two KITTI cameras with CameraInfo, over rclpy and Fast DDS.

The node (its own process, real ESPNetv2 weights) serves two cameras fed the same KITTI frames;
the right camera is declared 0.5 m to the right of the left one. Each frame's objects_3d must
carry the input's stamp and the ``base_frame``; the cars it lifts must lie near KITTI's labelled
3D positions, and the right camera's objects 0.5 m to the right of the left camera's.
"""

from pathlib import Path
import time

import numpy as np
import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_fixtures import RunningNode, use_private_domain
from sample_data import sample
from sensor_msgs.msg import CameraInfo

from seg_perception import taxonomy
from seg_perception.ros.driver import (make_camera_msg, NodeDriver, ns_to_header,
                                       spin_in_background, stop_spinning)
from seg_perception.ros.lane_messages import lanes_available
from seg_perception.tools.image_source import read_rgb
from seg_perception.tools.lifting_eval import read_kitti_calib
from seg_perception.tools.tracking_eval import read_kitti_labels

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CAMERAS = {'left': '/kitti/left/image_raw', 'right': '/kitti/right/image_raw'}
RIGHT_OFFSET_M = 0.5
START_NS = 1_700_000_000_000_000_000


def camera_info(p2: np.ndarray, width: int, height: int, stamp_ns: int) -> CameraInfo:
    """Return the CameraInfo of KITTI's rectified left colour camera (P2; no distortion)."""
    msg = CameraInfo(width=width, height=height, distortion_model='plumb_bob',
                     d=[0.0] * 5, k=p2[:, :3].reshape(-1).tolist(),
                     r=np.eye(3).reshape(-1).tolist(), p=p2.reshape(-1).tolist())
    msg.header = ns_to_header(stamp_ns, 'kitti_cam2')
    return msg


@pytest.fixture(scope='module')
def kitti():
    root = sample('sequences', 'kitti_tracking_mini', 'training')
    frames = sorted((root / 'image_02' / '0001').glob('*.png'))
    calib = read_kitti_calib(root / 'calib' / '0001.txt')
    labels = read_kitti_labels(root / 'label_02' / '0001.txt')
    return frames, calib['P2'], labels


def labelled_cars_base(labels, frame: int) -> np.ndarray:
    """(K, 2) base-frame x, y of the cars KITTI labels in a frame (camera ~1.65 m above base)."""
    rows = (labels.frames == frame) & (labels.classes == taxonomy.class_id('car'))
    boxes = labels.boxes_3d[rows]
    return np.stack([boxes[:, 5], -boxes[:, 3]], axis=1)  # base x = Z, base y = -X


def test_two_cameras_publish_objects_3d_with_input_headers_and_base_frame(
        kitti, tmp_path, espnetv2_weights_dir):
    frames, p2, labels = kitti
    use_private_domain()
    poses = [0.0, 0.0, 1.65, 0.0, 0.0, 0.0, 0.0, -RIGHT_OFFSET_M, 1.65, 0.0, 0.0, 0.0]
    node = RunningNode(list(CAMERAS.values()), str(espnetv2_weights_dir), tmp_path / 'node.log',
                       extra=['-p', f'camera_poses:={poses}', '-p', 'base_frame:=vehicle',
                              '-p', 'input_width:=1024', '-p', 'input_height:=320'])
    rclpy.init()
    outputs_wanted = ('detections', 'objects_3d') + (('lanes',) if lanes_available() else ())
    drivers = {name: NodeDriver(topic, outputs_wanted, node_name=f'kitti_{name}')
               for name, topic in CAMERAS.items()}
    info_publishers = {name: drivers[name].create_publisher(
        CameraInfo, topic.replace('image_raw', 'camera_info'),
        QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        for name, topic in CAMERAS.items()}
    spinners = [spin_in_background(d) for d in drivers.values()]
    lifted = {name: [] for name in CAMERAS}
    lane_points = {name: 0 for name in CAMERAS}
    try:
        for driver in drivers.values():
            assert driver.wait_until_connected(120.0), node.log()
        for index, path in enumerate(frames):
            rgb = read_rgb(path)
            height, width = rgb.shape[:2]
            stamp_ns = START_NS + index * 500_000_000  # frames 10, 15, 20 at 10 Hz
            for name, driver in drivers.items():
                info_publishers[name].publish(camera_info(p2, width, height, stamp_ns))
                time.sleep(0.2)  # the node keeps the newest CameraInfo; let it arrive first
                msg = make_camera_msg(rgb, ns_to_header(stamp_ns, 'kitti_cam2'))
                outputs = driver.send_lockstep(msg, timeout_s=120.0)
                assert outputs is not None, node.log()
                objects = outputs.messages['objects_3d']
                assert objects.header.stamp == msg.header.stamp
                assert objects.header.frame_id == 'vehicle'
                assert all(d.header.stamp == msg.header.stamp and
                           d.header.frame_id == 'vehicle' for d in objects.detections)
                tracked = {d.id for d in outputs.messages['detections'].detections}
                assert {d.id for d in objects.detections} <= tracked
                lifted[name].append(objects)
                if 'lanes' in outputs_wanted:  # lane lines on the ground, in base_frame
                    lanes = outputs.messages['lanes']
                    assert lanes.header.stamp == msg.header.stamp
                    assert lanes.base_frame == 'vehicle'
                    points = [p for lane in lanes.lanes for p in lane.ground_points]
                    assert all(0.0 < p.x <= 81.0 and abs(p.z) < 1e-6 for p in points)
                    lane_points[name] += len(points)
        assert node.alive()
        if 'lanes' in outputs_wanted:
            assert all(lane_points.values()), lane_points  # KITTI's road markings, lifted
    finally:
        node.stop()
        for spinner in spinners:
            stop_spinning(spinner)
        for driver in drivers.values():
            driver.destroy_node()
        rclpy.try_shutdown()

    # Cars are lifted, near where KITTI's labels put them (within 20% of their range).
    matched = 0
    for index, path in enumerate(frames):
        truth = labelled_cars_base(labels, int(Path(path).stem))
        for detection in lifted['left'][index].detections:
            if detection.results[0].hypothesis.class_id != 'car':
                continue
            position = np.array([detection.bbox.center.position.x,
                                 detection.bbox.center.position.y])
            assert position[0] > 0.0  # in front of the vehicle
            errors = np.linalg.norm(truth - position, axis=1)
            if errors.size and errors.min() <= 0.2 * np.linalg.norm(position):
                matched += 1
    assert matched >= 2, node.log()

    # The right camera's objects are the left camera's, 0.5 m further right (base -y).
    for left, right in zip(lifted['left'], lifted['right']):
        left_y = sorted(d.bbox.center.position.y for d in left.detections)
        right_y = sorted(d.bbox.center.position.y for d in right.detections)
        assert len(left_y) == len(right_y)
        np.testing.assert_allclose(np.array(right_y) + RIGHT_OFFSET_M, left_y, atol=1e-3)
