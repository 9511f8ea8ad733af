"""3D lifting of one camera stream inside the node: calibration, depth and LiDAR bookkeeping.

The node keeps one ``StreamLifting`` per camera. Callbacks hand it CameraInfo, depth images
and point clouds as they come (executor thread); the worker asks it to lift each frame's
tracked objects (worker thread). The newest message of each kind is kept; a depth image or
cloud is used only when its stamp is within ``SYNC_TOLERANCE_S`` of the frame's.
"""

import threading
from typing import Optional, Tuple

import numpy as np

from seg_perception.calibration import CameraCalibration
from seg_perception.geometry.camera import CameraModel, pose_matrix
from seg_perception.geometry.lifter import LidarCloud, Lifter, LifterConfig, Object3D
from seg_perception.lanes.ground import lanes_on_ground
from seg_perception.ros.conversions import stamp_to_ns
from seg_perception.ros.sensor_conversions import (camera_info_to_calibration,
                                                   depth_msg_to_metres, pointcloud2_to_xyz,
                                                   SensorConversionError)
from seg_perception.structures import FrameResult

#: Seconds between a frame's stamp and a depth image's or cloud's for them to be used together.
SYNC_TOLERANCE_S = 0.1

_NS_PER_S = 1_000_000_000


class LiftingError(ValueError):
    """A frame or sensor message that cannot be lifted (message says why)."""


class StreamLifting:
    """Lifts one camera's tracked objects to 3D once its CameraInfo has arrived.

    Args:
        method: ``ground_plane``, ``depth`` or ``lidar`` (``LifterConfig.method``).
        camera_pose: (x, y, z, roll, pitch, yaw) of the camera body in the base frame, m / rad.
        lidar_pose: the same for the LiDAR whose clouds this camera uses (method ``lidar``).

    """

    def __init__(self, method: str, camera_pose: Tuple[float, ...],
                 lidar_pose: Tuple[float, ...] = (0.0,) * 6):
        self._base_from_body = pose_matrix(*camera_pose)
        self._base_from_lidar = pose_matrix(*lidar_pose)
        self._lifter_config = LifterConfig(method=method)
        self._lock = threading.Lock()
        self._calibration: Optional[CameraCalibration] = None
        self._lifter: Optional[Lifter] = None
        self._depth_msg = None
        self._cloud_msg = None

    @property
    def method(self) -> str:
        """The lifting method of this camera."""
        return self._lifter_config.method

    @property
    def calibrated(self) -> bool:
        """True once a valid CameraInfo has arrived."""
        return self._lifter is not None

    def on_camera_info(self, msg) -> bool:
        """Take a CameraInfo; return True when the calibration changed.

        Raises:
            SensorConversionError: the message cannot be used (the previous calibration stays).
            ValueError: a distortion model the camera model does not handle.

        """
        calibration = camera_info_to_calibration(msg)
        if calibration == self._calibration:
            return False
        camera = CameraModel.from_camera_info(
            calibration.k, calibration.d, calibration.width, calibration.height,
            calibration.distortion_model, base_from_body=self._base_from_body)
        with self._lock:
            if self._lifter is None:
                self._lifter = Lifter(camera, self._lifter_config)
            else:  # keep the tracks' motion filters
                self._lifter.camera = camera
            self._calibration = calibration
        return True

    def camera_for(self, height: int, width: int) -> Optional[CameraModel]:
        """Return the calibrated camera when it is for images of this size, else None."""
        lifter, calibration = self._lifter, self._calibration
        if lifter is None or (calibration.height, calibration.width) != (height, width):
            return None
        return lifter.camera

    def lanes_on_ground(self, result: FrameResult):
        """Return the frame's lane lines, with ground points when the camera is calibrated."""
        camera = self.camera_for(*result.semantic.shape) if result.lanes else None
        return result.lanes if camera is None else lanes_on_ground(camera, result.lanes)

    def on_depth(self, msg) -> None:
        """Keep the newest depth image (converted when a frame needs it)."""
        self._depth_msg = msg

    def on_cloud(self, msg) -> None:
        """Keep the newest point cloud (converted when a frame needs it)."""
        self._cloud_msg = msg

    def lift(self, result: FrameResult) -> Tuple[Object3D, ...]:
        """Return the frame's tracked objects in 3D (base frame).

        A depth image or cloud out of sync with the frame (or none yet) is not used: the
        objects are lifted monocularly (``unsynced_reason`` says why).

        Raises:
            LiftingError: no CameraInfo yet, or an image of another size than the CameraInfo.
            SensorConversionError: the depth image to use is malformed or of another size
                than the CameraInfo, or the cloud is malformed (the caller skips the frame's
                objects_3d).

        """
        lifter, calibration = self._lifter, self._calibration
        if lifter is None:
            raise LiftingError('no camera_info received yet: objects_3d waits for it')
        height, width = result.instances.shape
        if (height, width) != (calibration.height, calibration.width):
            raise LiftingError(
                f'image is {width}x{height} but camera_info is for '
                f'{calibration.width}x{calibration.height}')
        stamp = result.frame.stamp_ns
        depth = self._synced_depth(stamp, calibration) if self.method == 'depth' else None
        cloud = self._synced_cloud(stamp) if self.method == 'lidar' else None
        with self._lock:
            return lifter.lift(result.objects, result.instances, stamp,
                               depth=depth, cloud=cloud)

    def unsynced_reason(self, frame_stamp_ns: int) -> str:
        """Return why the frame has no depth image / cloud to use ('' when it has one)."""
        if self.method not in ('depth', 'lidar'):
            return ''
        kind = 'depth image' if self.method == 'depth' else 'point cloud'
        msg = self._depth_msg if self.method == 'depth' else self._cloud_msg
        if msg is None:
            return f'no {kind} received yet'
        offset_s = (stamp_to_ns(msg.header.stamp) - frame_stamp_ns) / _NS_PER_S
        if abs(offset_s) > SYNC_TOLERANCE_S:
            return (f'newest {kind} is {offset_s:+.3f} s from the frame '
                    f'(tolerance {SYNC_TOLERANCE_S} s)')
        return ''

    def _synced(self, msg, frame_stamp_ns: int):
        if msg is None:
            return None
        if abs(stamp_to_ns(msg.header.stamp) - frame_stamp_ns) > SYNC_TOLERANCE_S * _NS_PER_S:
            return None
        return msg

    def _synced_depth(self, frame_stamp_ns: int,
                      calibration: CameraCalibration) -> Optional[np.ndarray]:
        msg = self._synced(self._depth_msg, frame_stamp_ns)
        if msg is None:
            return None
        depth = depth_msg_to_metres(msg)
        if depth.shape != (calibration.height, calibration.width):
            raise SensorConversionError(
                f'depth image is {depth.shape[1]}x{depth.shape[0]} but camera_info is for '
                f'{calibration.width}x{calibration.height} (it must be registered to the '
                'colour image)')
        return depth

    def _synced_cloud(self, frame_stamp_ns: int) -> Optional[LidarCloud]:
        msg = self._synced(self._cloud_msg, frame_stamp_ns)
        if msg is None:
            return None
        return LidarCloud(points=pointcloud2_to_xyz(msg), base_from_sensor=self._base_from_lidar)
