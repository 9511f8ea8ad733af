"""Lane lines on the ground: image curves lifted onto the ground plane, ego-lane boundaries.

Lifting uses the same camera model and ray / plane intersection as the monocular 3D lifting of
objects (``geometry.ground_plane.intersect_ground``): each image point of a line is intersected
with the plane ``z = ground_z`` of ``base``; points above the horizon or beyond ``max_range_m``
are dropped.
"""

from typing import List, Sequence, Tuple

import numpy as np

from seg_perception.geometry.camera import CameraModel
from seg_perception.geometry.ground_plane import intersect_ground
from seg_perception.lanes.sides import mark_ego_sides
from seg_perception.lanes.structures import LaneLine, polyline_from_curve


def lift_lane(camera: CameraModel, line: LaneLine, ground_z: float = 0.0,
              max_range_m: float = 80.0, step_px: float = 2.0) -> np.ndarray:
    """Return (M, 3) float64 ground points in ``base`` of one line, nearest first.

    The curve is sampled every ``step_px`` rows between ``y_top`` and ``y_bottom``.
    """
    samples = polyline_from_curve(line.coefficients, line.y_top, line.y_bottom, step_px)
    points, valid = intersect_ground(camera, samples, ground_z)
    origin = camera.origin_base
    distance = np.linalg.norm(points[:, :2] - origin[:2], axis=1)
    keep = valid & (distance <= max_range_m)
    points = points[keep]
    return points[np.argsort(np.linalg.norm(points[:, :2] - origin[:2], axis=1))]


def lift_lanes(camera: CameraModel, lines: Sequence[LaneLine],
               ground_z: float = 0.0) -> List[LaneLine]:
    """Return the lines with ``ground_points`` filled and ego sides marked from them."""
    lifted = [line.with_updates(ground_points=lift_lane(camera, line, ground_z))
              for line in lines]
    return mark_ego_sides(lifted, camera.width)


def lanes_on_ground(camera: CameraModel, lines: Sequence[LaneLine],
                    ground_z: float = 0.0) -> Tuple[LaneLine, ...]:
    """Return lines with ground points in ``base`` and ego sides from them (``lift_lanes``)."""
    return tuple(lift_lanes(camera, lines, ground_z))
