"""3D geometry of tracked things: camera model, lifting to 3D (ground plane, depth, LiDAR), motion.

Modules: ``camera`` (intrinsics, distortion, poses), ``ground_plane`` (monocular lifting with
class size priors), ``depth_lifting`` (aligned depth images), ``cloud_lifting`` (LiDAR points,
open3d DBSCAN), ``boxes`` (box fitting), ``motion`` (constant-velocity Kalman filter per track),
``lifter`` (``Lifter`` and ``Object3D``: what the node calls after the tracker).
"""

from seg_perception.geometry.camera import CameraModel, pose_matrix
from seg_perception.geometry.lifter import LidarCloud, Lifter, LifterConfig, METHODS, Object3D

__all__ = ['CameraModel', 'LidarCloud', 'Lifter', 'LifterConfig', 'METHODS', 'Object3D',
           'pose_matrix']
