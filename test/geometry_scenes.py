"""Synthetic scenes for the geometry tests: ray casting upright 3D boxes, a ground and a wall."""

import numpy as np


def ray_box(origin, directions, centre, size, yaw):
    """Return the distance along each (N, 3) unit ray to an upright box (inf on a miss)."""
    cos, sin = np.cos(yaw), np.sin(yaw)
    to_box = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    o = to_box @ (np.asarray(origin, dtype=np.float64) - centre)
    d = directions @ to_box.T
    half = np.asarray(size) / 2.0
    with np.errstate(divide='ignore', invalid='ignore'):
        t1 = (-half - o) / d
        t2 = (half - o) / d
    near = np.nanmax(np.minimum(t1, t2), axis=1)
    far = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((near <= far) & (near > 0.0), near, np.inf)


def ray_scene(origin, directions, boxes, wall_x=60.0):
    """Distance to the first hit among the boxes, the ground z = 0 and a wall at x = wall_x.

    Returns:
        (N,) distances and (N,) index of the box hit (-1: ground or wall or nothing).

    """
    origin = np.asarray(origin, dtype=np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        ground = np.where(directions[:, 2] < 0, -origin[2] / directions[:, 2], np.inf)
        wall = np.where(directions[:, 0] > 0, (wall_x - origin[0]) / directions[:, 0], np.inf)
    distance = np.minimum(ground, wall)
    which = np.full(directions.shape[0], -1)
    for index, (centre, size, yaw) in enumerate(boxes):
        hit = ray_box(origin, directions, np.asarray(centre, dtype=np.float64), size, yaw)
        closer = hit < distance
        distance[closer] = hit[closer]
        which[closer] = index
    return distance, which


_RAYS = {}


def pixel_rays(camera):
    """Return (H * W, 3) optical rays of every pixel (undistorting is slow: kept per camera)."""
    cached = _RAYS.get(id(camera))
    if cached is None or cached[0] is not camera:
        rows, cols = np.mgrid[0:camera.height, 0:camera.width]
        uv = np.stack((cols.ravel(), rows.ravel()), axis=1).astype(np.float64)
        cached = _RAYS[id(camera)] = (camera, camera.rays(uv))
    return cached[1]


def render_depth(camera, boxes):
    """Return a (H, W) float32 depth image (optical z, m) and (H, W) int box-index image."""
    optical_rays = pixel_rays(camera)
    origin, rays = camera.origin_base, optical_rays @ camera.base_from_optical[:3, :3].T
    distance, which = ray_scene(origin, rays, boxes)
    depth = (distance * optical_rays[:, 2]).astype(np.float32)
    return depth.reshape(camera.height, camera.width), which.reshape(camera.height, camera.width)


def lidar_scan(base_from_lidar, boxes, azimuth_step_deg=0.1, elevations_deg=None):
    """Return (N, 3) LiDAR-frame points of a spinning scan of the scene (hits only)."""
    if elevations_deg is None:
        elevations_deg = np.arange(-15.0, 5.0, 0.2)
    azimuth = np.radians(np.arange(-180.0, 180.0, azimuth_step_deg))
    elevation = np.radians(np.asarray(elevations_deg))
    az, el = np.meshgrid(azimuth, elevation)
    local = np.stack((np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)),
                     axis=-1).reshape(-1, 3)
    rotation, origin = base_from_lidar[:3, :3], base_from_lidar[:3, 3]
    distance, _ = ray_scene(origin, local @ rotation.T, boxes)
    hit = np.isfinite(distance) & (distance < 100.0)
    return local[hit] * distance[hit, None]
