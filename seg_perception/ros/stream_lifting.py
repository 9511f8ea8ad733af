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
from seg_perception.ros.sensor_conversions import (camera_info_to_calibration,
                                                   depth_msg_to_metres, pointcloud2_to_xyz)
from seg_perception.structures import FrameResult

#: Seconds between a frame's stamp and a depth image's or cloud's for them to be used together.
SYNC_TOLERANCE_S = 0.1

_NS_PER_S = 1_000_000_000


def stamp_ns(header) -> int:
    """Return a header's stamp in nanoseconds."""
    return header.stamp.sec * _NS_PER_S + header.stamp.nanosec


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

    def on_depth(self, msg) -> None:
        """Keep the newest depth image (converted when a frame needs it)."""
        self._depth_msg = msg

    def on_cloud(self, msg) -> None:
        """Keep the newest point cloud (converted when a frame needs it)."""
        self._cloud_msg = msg

    def lift(self, result: FrameResult) -> Tuple[Object3D, ...]:
        """Return the frame's tracked objects in 3D (base frame).

        Raises:
            LiftingError: no CameraInfo yet, or an image of another size than the CameraInfo.
            SensorConversionError: the depth image or cloud to use is malformed (the frame
                is then lifted without it by the caller's retry with ``lift_monocular``).

        """
        lifter, calibration = self._lifter, self._calibration
        if lifter is None:
            raise LiftingError('no camera_info received yet: objects_3d waits for it')
        height, width = result.instances.shape
        if (height, width) != (calibration.height, calibration.width):
            raise LiftingError(
                f'image is {width}x{height} but camera_info is for '
                f'{calibration.width}x{calibration.height}')
        depth = self._synced_depth(result.frame.stamp_ns) if self.method == 'depth' else None
        cloud = self._synced_cloud(result.frame.stamp_ns) if self.method == 'lidar' else None
        with self._lock:
            return lifter.lift(result.objects, result.instances, result.frame.stamp_ns,
                               depth=depth, cloud=cloud)

    def _synced(self, msg, frame_stamp_ns: int):
        if msg is None:
            return None
        if abs(stamp_ns(msg.header) - frame_stamp_ns) > SYNC_TOLERANCE_S * _NS_PER_S:
            return None
        return msg

    def _synced_depth(self, frame_stamp_ns: int) -> Optional[np.ndarray]:
        msg = self._synced(self._depth_msg, frame_stamp_ns)
        return None if msg is None else depth_msg_to_metres(msg)

    def _synced_cloud(self, frame_stamp_ns: int) -> Optional[LidarCloud]:
        msg = self._synced(self._cloud_msg, frame_stamp_ns)
        if msg is None:
            return None
        return LidarCloud(points=pointcloud2_to_xyz(msg), base_from_sensor=self._base_from_lidar)
