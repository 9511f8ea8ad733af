"""Lifting with an aligned depth image: the object's mask pixels with a valid depth, in 3D.

Depth images are registered to the colour camera (same size and intrinsics): ``16UC1`` holds
millimetres (``uint16``), ``32FC1`` metres (``float32``); 0, NaN and infinities mean no
measurement. Depth is the optical-frame z of the pixel's point (the ROS depth convention, REP
118), not the length of the ray. Pixel ``(row, col)`` is at image coordinates ``(col, row)``
(OpenCV's convention, which ``CameraInfo.k`` follows).

The mask's points (evenly subsampled to ``max_points``) go to
``seg_perception.geometry.boxes.object_box``: road points dropped, open3d's DBSCAN, the largest
cluster fitted with a box (mask edges that bleed onto the background and flying pixels form
other clusters or none).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from seg_perception.geometry.boxes import Box3D, BOX_MODES, object_box
from seg_perception.geometry.camera import CameraModel, transform_points
from seg_perception.geometry.ground_plane import SizePrior


@dataclass(frozen=True)
class DepthLiftConfig:
    """Settings of depth lifting.

    Attributes:
        box_mode: ``axis_aligned`` or ``yaw`` (see ``boxes``).
        min_points: fewest points in the object's cluster for a result.
        dbscan_eps_m: DBSCAN neighbourhood radius, m.
        ground_clearance_m: points lower than this above the ground are dropped (negative:
            keep all).
        ground_z: height of the ground in ``base``, m.
        max_points: at most this many pixels are used (evenly subsampled).

    """

    box_mode: str = 'yaw'
    min_points: int = 10
    dbscan_eps_m: float = 0.3
    ground_clearance_m: float = 0.2
    ground_z: float = 0.0
    max_points: int = 5000

    def __post_init__(self):
        if self.box_mode not in BOX_MODES:
            raise ValueError(f'box_mode {self.box_mode!r} unknown; use one of {BOX_MODES}')
        if self.min_points < 1 or self.max_points < self.min_points or self.dbscan_eps_m <= 0:
            raise ValueError('need 1 <= min_points <= max_points and dbscan_eps_m > 0')


def depth_to_metres(depth: np.ndarray) -> np.ndarray:
    """Return a (H, W) float32 metres image, NaN where there is no measurement.

    Args:
        depth: (H, W) ``uint16`` millimetres (16UC1) or ``float32`` / ``float64`` metres
            (32FC1).

    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f'depth must be (H, W), got shape {depth.shape}')
    if depth.dtype == np.uint16:
        metres = depth.astype(np.float32) / 1000.0
        metres[depth == 0] = np.nan
        return metres
    if depth.dtype in (np.float32, np.float64):
        metres = depth.astype(np.float32)
        metres[~np.isfinite(metres) | (metres <= 0.0)] = np.nan
        return metres
    raise ValueError(f'depth must be uint16 millimetres or float32 metres, got {depth.dtype}')


def mask_points(camera: CameraModel, depth: np.ndarray, mask: np.ndarray,
                max_points: int = 20000) -> np.ndarray:
    """Return (N, 3) ``base`` points of the mask's pixels that have a depth.

    Args:
        camera: the colour camera the depth image is registered to.
        depth: (H, W) depth image (see ``depth_to_metres``).
        mask: (H, W) bool, the object's pixels.
        max_points: evenly subsample to at most this many.

    """
    metres = depth_to_metres(depth)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != metres.shape or metres.shape != (camera.height, camera.width):
        raise ValueError(f'depth {metres.shape} and mask {mask.shape} must both be the '
                         f'camera image size {(camera.height, camera.width)}')
    rows, cols = np.nonzero(mask & np.isfinite(metres))
    if rows.shape[0] > max_points:
        keep = np.linspace(0, rows.shape[0] - 1, max_points).astype(np.int64)
        rows, cols = rows[keep], cols[keep]
    uv = np.stack((cols, rows), axis=1).astype(np.float64)
    optical = camera.unproject(uv, metres[rows, cols])
    return transform_points(camera.base_from_optical, optical)


def lift_depth(camera: CameraModel, depth: np.ndarray, mask: np.ndarray,
               prior: Optional[SizePrior] = None,
               config: DepthLiftConfig = DepthLiftConfig()) -> Optional[Box3D]:
    """Fit a 3D box in ``base`` to an object from its mask and an aligned depth image.

    Args:
        camera: the colour camera (pose in ``base``).
        depth: (H, W) uint16 mm or float32 m, registered to the colour image.
        mask: (H, W) bool, the object's pixels.
        prior: the class's size prior, to complete extents the camera cannot see.
        config: settings.

    Returns:
        the box, or None with fewer than ``config.min_points`` points in the object's cluster.

    """
    points = mask_points(camera, depth, mask, config.max_points)
    return object_box(points, camera.origin_base, prior, config.box_mode, config.dbscan_eps_m,
                      config.min_points, config.ground_z, config.ground_clearance_m)
