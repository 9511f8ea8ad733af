"""Lifting with a LiDAR cloud: the points that project into the object's mask, clustered.

Points are a PointCloud2's x, y, z as an (N, 3) float array in the LiDAR frame, with the
LiDAR's (4, 4) pose in ``base``. They are projected into the camera (points behind it or out
of its view dropped), those landing on the mask's pixels kept and given to
``seg_perception.geometry.boxes.object_box``: road points dropped, open3d's DBSCAN
(``PointCloud.cluster_dbscan``), the largest cluster (the object; the background seen past the
mask's edges forms others) fitted with a box. The cloud is assumed captured at the image's
stamp (motion compensation is the driver's job).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from seg_perception.geometry.boxes import Box3D, BOX_MODES, object_box
from seg_perception.geometry.camera import CameraModel, transform_points
from seg_perception.geometry.ground_plane import SizePrior


@dataclass(frozen=True)
class CloudLiftConfig:
    """Settings of LiDAR lifting.

    Attributes:
        box_mode: ``axis_aligned`` or ``yaw`` (see ``boxes``).
        dbscan_eps_m: DBSCAN neighbourhood radius, m.
        dbscan_min_points: DBSCAN core-point neighbour count.
        min_points: fewest points in the chosen cluster for a result.
        ground_clearance_m: points lower than this above the ground (base z = ``ground_z``)
            are dropped (road returns inside the mask's bottom); negative keeps all.
        ground_z: height of the ground in ``base``, m.

    """

    box_mode: str = 'yaw'
    dbscan_eps_m: float = 0.5
    dbscan_min_points: int = 5
    min_points: int = 5
    ground_clearance_m: float = 0.2
    ground_z: float = 0.0

    def __post_init__(self):
        if self.box_mode not in BOX_MODES:
            raise ValueError(f'box_mode {self.box_mode!r} unknown; use one of {BOX_MODES}')
        if self.dbscan_eps_m <= 0.0 or self.dbscan_min_points < 1 or self.min_points < 1:
            raise ValueError('dbscan_eps_m must be > 0, dbscan_min_points and min_points >= 1')


def project_cloud(camera: CameraModel, points: np.ndarray,
                  base_from_sensor: np.ndarray) -> tuple:
    """Project a cloud into the camera.

    Args:
        camera: the camera (pose in ``base``).
        points: (N, 3) float, metres, sensor frame; non-finite rows are ignored.
        base_from_sensor: (4, 4) sensor pose in ``base``.

    Returns:
        (N, 3) base points, (N, 2) int64 pixel ``col, row`` (-1 where invalid), (N,) valid.

    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points must be (N, 3), got {points.shape}')
    base = transform_points(base_from_sensor, points)
    uv, valid = camera.project_base(base)
    pixels = np.full((points.shape[0], 2), -1, dtype=np.int64)
    pixels[valid] = np.floor(uv[valid] + 0.5).astype(np.int64)
    valid &= (pixels[:, 0] >= 0) & (pixels[:, 0] < camera.width) & (pixels[:, 1] >= 0) \
        & (pixels[:, 1] < camera.height)
    pixels[~valid] = -1
    return base, pixels, valid


def lift_cloud(camera: CameraModel, points: np.ndarray, base_from_sensor: np.ndarray,
               mask: np.ndarray, prior: Optional[SizePrior] = None,
               config: CloudLiftConfig = CloudLiftConfig(),
               projected: Optional[tuple] = None) -> Optional[Box3D]:
    """Fit a 3D box in ``base`` to the cloud points inside an object's mask.

    Args:
        camera: the camera (pose in ``base``).
        points: (N, 3) sensor-frame points, m.
        base_from_sensor: (4, 4) sensor pose in ``base``.
        mask: (H, W) bool, the object's pixels (camera image size).
        prior: the class's size prior, to complete extents the sensor cannot see.
        config: settings.
        projected: ``project_cloud``'s result, to share one projection among a frame's objects.

    Returns:
        the box, or None with too few points.

    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (camera.height, camera.width):
        raise ValueError(f'mask {mask.shape} must be the camera image size '
                         f'{(camera.height, camera.width)}')
    base, pixels, valid = projected if projected is not None else \
        project_cloud(camera, points, base_from_sensor)
    inside = valid.copy()
    inside[valid] = mask[pixels[valid, 1], pixels[valid, 0]]
    # The LiDAR's position is the viewpoint for completing unseen extents.
    viewpoint = np.asarray(base_from_sensor, dtype=np.float64)[:3, 3]
    return object_box(base[inside], viewpoint, prior, config.box_mode, config.dbscan_eps_m,
                      max(config.dbscan_min_points, config.min_points), config.ground_z,
                      config.ground_clearance_m)
