"""3D boxes fitted to an object's points in ``base`` (from a depth image or a LiDAR cloud).

Two box kinds (``BOX_MODES``):

* ``axis_aligned``: min / max of the points along base x, y, z; yaw 0.
* ``yaw``: oriented about base z only (roll and pitch 0, as objects on a road): the rectangle
  whose edges the points' x, y lie closest to, searched over headings (the "closeness"
  criterion of Zhang et al., "Efficient L-Shape Fitting for Vehicle Detection Using Laser
  Scanners", IV 2017; a minimum-area rectangle tilts on an L-shaped view), z from the points'
  min / max. An L-shaped view of a vehicle (two faces) gives its full footprint; the yaw is
  known modulo 90 degrees (the larger extent is reported as the box's x).

Sensors see only an object's near faces. With a size prior, an extent shorter than the prior's
(one face seen: a car from straight behind) is grown to it away from the viewpoint.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from seg_perception.geometry.ground_plane import SizePrior

BOX_MODES = ('axis_aligned', 'yaw')


@dataclass(frozen=True, eq=False)
class Box3D:
    """An upright 3D box in ``base``.

    Attributes:
        centre: (3,) float64 geometric centre, m.
        size: (3,) float64 extent along the box's own x (yaw direction), y and z, m.
        yaw: rotation about base z, rad (0 for axis-aligned boxes).
        num_points: points the box was fitted to.

    """

    centre: np.ndarray
    size: np.ndarray
    yaw: float
    num_points: int


def fit_box(points: np.ndarray, mode: str = 'axis_aligned', prior: Optional[SizePrior] = None,
            viewpoint: Optional[np.ndarray] = None) -> Box3D:
    """Fit an upright box to (N, 3) base points (N >= 1).

    Args:
        points: (N, 3) metres in ``base``.
        mode: ``axis_aligned`` or ``yaw``.
        prior: class size prior; horizontal extents shorter than it grow to it, away from the
            viewpoint (``_prior_extents`` says which axis gets the prior's length).
        viewpoint: (3,) sensor position in ``base``; growth goes away from it (required with
            ``prior``).

    Returns:
        the box.

    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if mode not in BOX_MODES:
        raise ValueError(f'box mode {mode!r} unknown; use one of {BOX_MODES}')
    if points.shape[0] == 0 or not np.isfinite(points).all():
        raise ValueError('fit_box needs at least one point, all finite')
    if prior is not None and viewpoint is None:
        raise ValueError('fit_box with a prior needs the viewpoint')
    z_low, z_high = points[:, 2].min(), points[:, 2].max()
    if mode == 'axis_aligned' or points.shape[0] < 3:
        yaw = 0.0
        low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        centre_xy, extent = (low + high) / 2.0, high - low
    else:
        yaw, centre_xy, extent = _closest_rectangle(points[:, :2])
    axes = np.array([[np.cos(yaw), np.sin(yaw)], [-np.sin(yaw), np.cos(yaw)]])
    if prior is not None:
        away = centre_xy - np.asarray(viewpoint, dtype=np.float64)[:2]
        target = _prior_extents(extent, axes, away, prior)
        for axis in range(2):
            grow = target[axis] - extent[axis]
            if grow > 0.0:
                sign = 1.0 if away @ axes[axis] >= 0.0 else -1.0
                centre_xy = centre_xy + sign * grow / 2.0 * axes[axis]
                extent[axis] = target[axis]
    if mode == 'yaw':
        if extent[1] > extent[0]:
            yaw, extent = yaw + np.pi / 2.0, extent[::-1].copy()
        yaw = float((yaw + np.pi / 2.0) % np.pi - np.pi / 2.0)   # in [-pi/2, pi/2)
    return Box3D(centre=np.array([centre_xy[0], centre_xy[1], (z_low + z_high) / 2.0]),
                 size=np.array([extent[0], extent[1], z_high - z_low]), yaw=yaw,
                 num_points=int(points.shape[0]))


def _prior_extents(extent: np.ndarray, axes: np.ndarray, away: np.ndarray,
                   prior: SizePrior) -> tuple:
    """Return the prior's (length, width) assigned to the box's two axes.

    Of the two assignments, the one needing the least unseen growth wins: growth along the line
    of sight is free (the far side is hidden), growth across it costs (it would have been
    seen), and a measured extent beyond the prior costs what it exceeds.
    """
    sight = away / max(float(np.linalg.norm(away)), 1e-9)
    best, best_cost = None, np.inf
    for target in ((prior.length, prior.width), (prior.width, prior.length)):
        cost = 0.0
        for axis in range(2):
            grow = target[axis] - extent[axis]
            across = abs(axes[axis, 0] * sight[1] - axes[axis, 1] * sight[0])
            cost += grow * across if grow > 0.0 else -grow
        if cost < best_cost:
            best, best_cost = target, cost
    return best


def _closest_rectangle(xy: np.ndarray, min_distance: float = 0.01):
    """Return yaw (rad), (2,) centre and (2,) extent of the rectangle fitted to (N, 2) points.

    Headings are searched coarse to fine (5 degrees, then 0.25 degrees around the best) on the
    points' distinct 2 cm cells; the extents come from all points at the chosen heading.
    """
    mean = xy.mean(axis=0)
    xy = xy - mean
    cells = np.unique(np.round(xy / 0.02), axis=0) * 0.02
    best = _best_heading(cells, np.radians(np.arange(0.0, 90.0, 5.0)), min_distance)
    best = _best_heading(cells, best + np.radians(np.arange(-2.5, 2.75, 0.25)), min_distance)
    axis = np.array([np.cos(best), np.sin(best)])
    normal = np.array([-axis[1], axis[0]])
    along, across = xy @ axis, xy @ normal
    low = np.array([along.min(), across.min()])
    high = np.array([along.max(), across.max()])
    middle = (low + high) / 2.0
    centre = mean + middle[0] * axis + middle[1] * normal
    return float(best), centre, high - low


def _best_heading(xy: np.ndarray, angles: np.ndarray, min_distance: float) -> float:
    """Return the angle (rad) whose rectangle edges the points lie closest to."""
    axes = np.stack((np.cos(angles), np.sin(angles)), axis=1)       # (A, 2)
    along = xy @ axes.T                                              # (N, A)
    across = xy @ np.stack((-axes[:, 1], axes[:, 0]), axis=1).T      # (N, A)
    gap_along = np.minimum(along - along.min(axis=0), along.max(axis=0) - along)
    gap_across = np.minimum(across - across.min(axis=0), across.max(axis=0) - across)
    closeness = (1.0 / np.maximum(np.minimum(gap_along, gap_across), min_distance)).sum(axis=0)
    return float(angles[int(np.argmax(closeness))])


def largest_cluster(points: np.ndarray, eps: float, min_points: int) -> np.ndarray:
    """Return the points of the largest DBSCAN cluster (open3d), (0, 3) when none.

    DBSCAN runs on the centroids of ``eps / 2`` voxels (a depth image gives thousands of points
    per object, centimetres apart: DBSCAN's cost grows with the neighbours per point), each
    voxel weighing its point count; every original point takes its voxel's cluster, so the
    returned points keep full resolution.
    """
    import open3d as o3d
    if points.shape[0] == 0:
        return points
    keys = np.floor(points / (eps / 2.0)).astype(np.int64)
    _, voxel_of, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    voxel_of = voxel_of.reshape(-1)
    centroids = np.zeros((counts.shape[0], 3))
    np.add.at(centroids, voxel_of, points)
    centroids /= counts[:, None]
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(centroids))
    # min_points counts voxels here, which hold many points each: at most 3 voxels make a core.
    voxel_labels = np.asarray(cloud.cluster_dbscan(eps=eps, min_points=min(min_points, 3),
                                                   print_progress=False))
    labels = voxel_labels[voxel_of]
    clustered = labels >= 0
    if not clustered.any():
        return points[:0]
    sizes = np.bincount(labels[clustered])
    return points[labels == int(np.argmax(sizes))]


def object_box(points: np.ndarray, viewpoint: np.ndarray, prior: Optional[SizePrior] = None,
               mode: str = 'yaw', eps: float = 0.5, min_points: int = 5,
               ground_z: float = 0.0, ground_clearance: float = 0.2) -> Optional[Box3D]:
    """Box of an object from the (N, 3) base points seen inside its mask (depth or LiDAR).

    Road points (lower than ``ground_clearance`` m above ``ground_z``; negative clearance keeps
    all) are dropped, the largest DBSCAN cluster (open3d; ``eps`` m, ``min_points``) kept: the
    background seen past the mask's edges forms other clusters. Things standing on the ground
    (``prior.on_ground``) get their box extended down to ``ground_z`` when ground points were
    dropped. Returns None with fewer than ``min_points`` points left.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    points = points[np.isfinite(points).all(axis=1)]
    if ground_clearance >= 0.0:
        points = points[points[:, 2] > ground_z + ground_clearance]
    cluster = largest_cluster(points, eps, min_points)
    if cluster.shape[0] < min_points:
        return None
    box = fit_box(cluster, mode, prior, viewpoint)
    if ground_clearance >= 0.0 and prior is not None and prior.on_ground:
        top = box.centre[2] + box.size[2] / 2.0
        centre, size = box.centre.copy(), box.size.copy()
        centre[2], size[2] = (top + ground_z) / 2.0, top - ground_z
        box = Box3D(centre=centre, size=size, yaw=box.yaw, num_points=box.num_points)
    return box
