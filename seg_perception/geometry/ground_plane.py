"""Monocular lifting of image boxes to 3D: ground plane, class size priors and the camera's pitch.

Two range estimates per box, fused by their variances:

* ground plane: the ray through the box's bottom-centre pixel meets the plane ``z = ground_z``
  of ``base``. Its error grows with the square of the range for a given pitch error (road
  slope, vehicle pitch) and linearly for a given height error of the ground under the object:
  ``sigma = D / camera_height * sqrt((D * pitch_std)^2 + ground_height_std^2)``.
* size prior: a vertical segment of the class's prior height ``H`` seen from ground to top
  between the box's bottom and top rows lies at horizontal distance ``D = H / (tan a_top -
  tan a_bottom)`` (``a``: ray elevations); ``sigma = size_rel_std * D``.

Before that, a frame's pitch error is estimated from the objects themselves (the horizon
estimate of Hoiem, Efros and Hebert, "Putting Objects in Perspective", CVPR 2006): each
upright object whose box touches neither the top nor the bottom border says how far the ray to
its bottom must be raised for its size-prior position to lie on the ground; the median over the
frame's objects (at least ``min_objects_for_pitch``) rotates the camera about its horizontal
axis before the ground-plane intersection. No ground truth is used.

A box's bottom edge is the object's near side; the ground-contact centre is ``length / 2``
(class prior) further along the horizontal viewing direction. The box is laid along that
direction (its yaw is not observed).

Class size priors (metres, height / width / length): car 1.53 / 1.63 / 3.88, truck 3.25 / 2.59
/ 10.11, person 1.76 / 0.66 / 0.84, rider (cyclist) 1.74 / 0.60 / 1.76, train (tram) 3.53 /
2.54 / 16.09 are the KITTI 3D-object class means widely published in monocular 3D detection
papers (e.g. Mousavian et al., "3D Bounding Box Estimation Using Deep Learning and Geometry",
CVPR 2017); bus (3.0 / 2.55 / 12.0: EU maximum width, a common 12 m city bus), motorcycle and
bicycle (without rider), traffic light and sign are typical values (our assumption).
"""

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from seg_perception.geometry.camera import CameraModel


@dataclass(frozen=True)
class SizePrior:
    """Typical size of a class, metres; ``on_ground`` is False for things mounted above it."""

    height: float
    width: float
    length: float
    on_ground: bool = True


SIZE_PRIORS: Dict[str, SizePrior] = {
    'car': SizePrior(1.53, 1.63, 3.88),
    'truck': SizePrior(3.25, 2.59, 10.11),
    'bus': SizePrior(3.0, 2.55, 12.0),
    'train': SizePrior(3.53, 2.54, 16.09),
    'person': SizePrior(1.76, 0.66, 0.84),
    'rider': SizePrior(1.74, 0.60, 1.76),
    'motorcycle': SizePrior(1.2, 0.8, 2.1),
    'bicycle': SizePrior(1.1, 0.6, 1.75),
    'traffic_light': SizePrior(1.0, 0.35, 0.3, on_ground=False),
    'traffic_sign': SizePrior(0.75, 0.75, 0.1, on_ground=False),
}


@dataclass(frozen=True)
class GroundLiftConfig:
    """Settings of monocular lifting.

    Attributes:
        ground_z: height of the ground plane in ``base``, m (0 when ``base`` is on the ground).
        use_size_prior: fuse the size-prior range (else ground plane only).
        use_ground_plane: fuse the ground-plane range (else the size prior only, and the
            ground plane only where the size prior is not usable).
        estimate_pitch: correct the camera's pitch per frame from the objects.
        min_objects_for_pitch: fewest usable objects for a pitch estimate.
        max_pitch_correction: largest correction applied, rad.
        pitch_std: pitch uncertainty left after the correction, rad (5 px at f = 720 px).
        ground_height_std: the ground under an object vs. the plane (camber, kerbs, hills), m;
            a relative range error of ``ground_height_std / camera_height`` at any distance.
        size_rel_std: relative spread of a class's real size around its prior (10 %).
        border_px: a box edge this close to the image border is cut off by it.
        near_to_centre: move from the near side to the ground-contact centre (length / 2).

    """

    ground_z: float = 0.0
    use_size_prior: bool = True
    use_ground_plane: bool = True
    estimate_pitch: bool = True
    min_objects_for_pitch: int = 3
    max_pitch_correction: float = 0.05
    pitch_std: float = 0.007
    ground_height_std: float = 0.15
    size_rel_std: float = 0.10
    border_px: float = 2.0
    near_to_centre: bool = True

    def __post_init__(self):
        if self.pitch_std <= 0.0 or self.size_rel_std <= 0.0 or self.max_pitch_correction < 0.0 \
                or self.ground_height_std < 0.0:
            raise ValueError('pitch_std and size_rel_std must be > 0, max_pitch_correction and '
                             'ground_height_std >= 0')
        if self.min_objects_for_pitch < 1:
            raise ValueError('min_objects_for_pitch must be >= 1')


@dataclass(frozen=True)
class GroundLift:
    """Monocular positions of N boxes, in ``base``.

    Attributes:
        centres: (N, 3) float64 ground-contact centre (bottom centre of the 3D box), m; for
            classes not on the ground the 3D centre. NaN where ``valid`` is False.
        valid: (N,) bool.
        ground_range: (N,) horizontal distance from the camera by the ground plane, m (NaN
            where the ray misses the ground or the bottom is cut off).
        size_range: (N,) the same by the size prior, m (NaN where not usable).
        pitch_correction: rad the rays were raised by (0 when not estimated).

    """

    centres: np.ndarray
    valid: np.ndarray
    ground_range: np.ndarray
    size_range: np.ndarray
    pitch_correction: float


def _check_boxes(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(boxes).all() or (boxes[:, 2:] < boxes[:, :2]).any():
        raise ValueError('boxes must be finite (N, 4) x_min, y_min, x_max, y_max pixels')
    return boxes


def _horizontal(vectors: np.ndarray) -> np.ndarray:
    return np.linalg.norm(vectors[:, :2], axis=1)


def intersect_ground(camera: CameraModel, uv: np.ndarray,
                     ground_z: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Intersect the rays through pixels with the plane ``z = ground_z`` of ``base``.

    Args:
        camera: the camera.
        uv: (N, 2) pixels.
        ground_z: plane height in ``base``, m.

    Returns:
        (N, 3) base points (NaN where the ray does not go down to the plane) and (N,) valid.

    """
    origin, rays = camera.rays_base(uv)
    height = origin[2] - ground_z
    valid = (rays[:, 2] < -1e-9) & (height > 0.0)
    scale = np.full(rays.shape[0], np.nan)
    scale[valid] = -height / rays[valid, 2]
    return origin + rays * scale[:, None], valid


def flat_ground_baseline(camera: CameraModel, boxes: np.ndarray,
                         ground_z: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Return the plain baseline: each box's bottom-centre pixel on the flat ground plane.

    Args:
        camera: the camera.
        boxes: (N, 4) ``x_min, y_min, x_max, y_max`` pixels.
        ground_z: plane height in ``base``, m.

    Returns:
        (N, 3) base points and (N,) valid, as ``intersect_ground``.

    """
    boxes = _check_boxes(boxes)
    bottom = np.stack(((boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3]), axis=1)
    return intersect_ground(camera, bottom, ground_z)


def _size_range(camera: CameraModel, boxes: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Horizontal distance of a vertical segment of ``heights`` m spanning each box's rows."""
    u = (boxes[:, 0] + boxes[:, 2]) / 2.0
    _, bottom = camera.rays_base(np.stack((u, boxes[:, 3]), axis=1))
    _, top = camera.rays_base(np.stack((u, boxes[:, 1]), axis=1))
    spread = top[:, 2] / _horizontal(top) - bottom[:, 2] / _horizontal(bottom)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(spread > 1e-6, heights / spread, np.nan)


def pitched(camera: CameraModel, raise_by: float) -> CameraModel:
    """Return the camera rotated about its horizontal axis so that its rays rise ``raise_by`` rad.

    The optical centre stays in place; ``raise_by`` > 0 tilts the view up.
    """
    if raise_by == 0.0:
        return camera
    axis = camera.base_from_optical[:3, 2].copy()
    axis[2] = 0.0
    if np.linalg.norm(axis) < 1e-9:
        return camera  # looking straight down or up: no horizontal axis to pitch about
    forward = axis / np.linalg.norm(axis)
    left = np.cross([0.0, 0.0, 1.0], forward)
    pose = camera.base_from_optical.copy()
    pose[:3, :3] = Rotation.from_rotvec(-raise_by * left).as_matrix() @ pose[:3, :3]
    return camera.with_pose(pose)


def estimate_pitch_correction(camera: CameraModel, boxes: np.ndarray, priors: Sequence[SizePrior],
                              config: GroundLiftConfig = GroundLiftConfig()) -> float:
    """Estimate how far (rad) to raise the camera's rays so objects stand on the ground.

    Args:
        camera: the camera.
        boxes: (N, 4) pixels of one frame.
        priors: N size priors, one per box.
        config: settings (``min_objects_for_pitch``, ``max_pitch_correction``, ``border_px``).

    Returns:
        the median over usable objects (upright, not cut by the top or bottom border), clipped
        to ``max_pitch_correction``; 0 with fewer than ``min_objects_for_pitch``.

    """
    boxes = _check_boxes(boxes)
    usable = _uncut(camera, boxes, config) & np.array([p.on_ground for p in priors], dtype=bool)
    if usable.sum() < config.min_objects_for_pitch:
        return 0.0
    boxes = boxes[usable]
    heights = np.array([p.height for p, ok in zip(priors, usable) if ok])
    distance = _size_range(camera, boxes, heights)
    origin, rays = camera.rays_base(
        np.stack(((boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3]), axis=1))
    # Height of the size-prior position above the ground: the rays must rise by -that / D.
    bottom_z = origin[2] + rays[:, 2] / _horizontal(rays) * distance
    raise_by = -(bottom_z - config.ground_z) / distance
    raise_by = raise_by[np.isfinite(raise_by)]
    if raise_by.shape[0] < config.min_objects_for_pitch:
        return 0.0
    return float(np.clip(np.median(raise_by), -config.max_pitch_correction,
                         config.max_pitch_correction))


def _uncut(camera: CameraModel, boxes: np.ndarray, config: GroundLiftConfig) -> np.ndarray:
    return (boxes[:, 1] > config.border_px) & (boxes[:, 3] < camera.height - config.border_px)


def lift_boxes(camera: CameraModel, boxes: np.ndarray, class_names: Sequence[str],
               config: GroundLiftConfig = GroundLiftConfig()) -> GroundLift:
    """Lift one frame's boxes to 3D with the ground plane, size priors and a pitch estimate.

    Args:
        camera: the camera (pose in ``base``).
        boxes: (N, 4) ``x_min, y_min, x_max, y_max`` pixels.
        class_names: N canonical class names; classes without a prior in ``SIZE_PRIORS``
            use the ground plane only and stay at their near side.
        config: settings.

    Returns:
        the positions, both range estimates and the pitch correction used.

    """
    boxes = _check_boxes(boxes)
    if len(class_names) != boxes.shape[0]:
        raise ValueError(f'{boxes.shape[0]} boxes but {len(class_names)} class names')
    priors = [SIZE_PRIORS.get(name) for name in class_names]
    known = np.array([p is not None for p in priors], dtype=bool)
    filled = [p or SizePrior(np.nan, np.nan, 0.0) for p in priors]
    on_ground = np.array([p.on_ground for p in filled], dtype=bool)
    raise_by = 0.0
    if config.estimate_pitch and config.use_size_prior and known.any():
        raise_by = estimate_pitch_correction(
            camera, boxes[known], [p for p in priors if p is not None], config)
    camera = pitched(camera, raise_by)

    u = (boxes[:, 0] + boxes[:, 2]) / 2.0
    origin, bottom_rays = camera.rays_base(np.stack((u, boxes[:, 3]), axis=1))
    ground_points, hits = intersect_ground(camera, np.stack((u, boxes[:, 3]), axis=1),
                                           config.ground_z)
    bottom_cut = boxes[:, 3] >= camera.height - config.border_px
    ground_range = np.where(hits & ~bottom_cut & on_ground,
                            _horizontal(ground_points - origin), np.nan)
    size_range = np.full(boxes.shape[0], np.nan)
    if config.use_size_prior:
        heights = np.array([p.height for p in filled])
        size_range = np.where(_uncut(camera, boxes, config) & known,
                              _size_range(camera, boxes, heights), np.nan)
    camera_height = origin[2] - config.ground_z
    var_ground = np.square(ground_range / max(camera_height, 1e-3)) * (
        np.square(ground_range * config.pitch_std) + config.ground_height_std ** 2)
    var_size = np.square(config.size_rel_std * size_range)
    if config.use_ground_plane:
        distance = _fuse(ground_range, var_ground, size_range, var_size)
    else:
        distance = size_range.copy()
        distance[~np.isfinite(distance)] = ground_range[~np.isfinite(distance)]
    # Fall back to a cut-off ground estimate (a lower bound) rather than nothing.
    fallback = ~np.isfinite(distance) & hits & on_ground
    distance[fallback] = _horizontal(ground_points[fallback] - origin)

    direction = bottom_rays[:, :2] / np.maximum(_horizontal(bottom_rays), 1e-12)[:, None]
    offset = np.array([p.length / 2.0 for p in filled]) if config.near_to_centre \
        else np.zeros(boxes.shape[0])
    centres = np.empty((boxes.shape[0], 3))
    centres[:, :2] = origin[:2] + direction * (distance + offset)[:, None]
    centres[:, 2] = config.ground_z
    if (~on_ground).any():
        # Mounted things: the box centre's ray at the estimated horizontal distance.
        _, centre_rays = camera.rays_base(np.stack((u, (boxes[:, 1] + boxes[:, 3]) / 2.0), 1))
        scale = distance / np.maximum(_horizontal(centre_rays), 1e-12)
        centres[~on_ground] = (origin + centre_rays * scale[:, None])[~on_ground]
    valid = np.isfinite(distance) & (distance > 0.0)
    centres[~valid] = np.nan
    return GroundLift(centres=centres, valid=valid, ground_range=ground_range,
                      size_range=size_range, pitch_correction=raise_by)


def _fuse(a: np.ndarray, var_a: np.ndarray, b: np.ndarray, var_b: np.ndarray) -> np.ndarray:
    """Inverse-variance mean of two estimates, NaN-aware (one estimate when the other is NaN)."""
    weight_a = np.where(np.isfinite(a) & (var_a > 0), 1.0 / np.where(var_a > 0, var_a, 1.0), 0.0)
    weight_b = np.where(np.isfinite(b) & (var_b > 0), 1.0 / np.where(var_b > 0, var_b, 1.0), 0.0)
    total = weight_a + weight_b
    with np.errstate(invalid='ignore', divide='ignore'):
        fused = (np.nan_to_num(a) * weight_a + np.nan_to_num(b) * weight_b) / total
    return np.where(total > 0, fused, np.nan)


def prior_for(class_name: str) -> Optional[SizePrior]:
    """Return the size prior of a canonical class name, or None."""
    return SIZE_PRIORS.get(class_name)
