"""Camera geometry: intrinsics with lens distortion, and the camera's pose in the vehicle frame.

Frames:

* ``base``: the vehicle frame the parameters name (``base_frame``, REP-103: x forward, y left,
  z up, metres).
* camera body: the camera's mount frame, REP-103 like ``base`` (x along the optical axis).
  ``pose_matrix(x, y, z, roll, pitch, yaw)`` gives it in ``base``; all zero = looking along
  base x. A positive pitch tilts the camera down.
* optical: z forward along the optical axis, x right, y down (the frame of ``CameraInfo`` and
  of image headers). ``OPTICAL_TO_BODY`` maps it to the body frame.

Intrinsics come from ``sensor_msgs/CameraInfo`` fields as plain arrays (``k``: 9 values, ``d``:
distortion coefficients in OpenCV order ``k1 k2 p1 p2 k3 [k4 k5 k6]``, ``distortion_model``
``plumb_bob`` or ``rational_polynomial``, ``width``, ``height``). Projection and unprojection
use OpenCV (``cv2.projectPoints``, ``cv2.undistortPoints``).

Example::

    camera = CameraModel.from_camera_info(
        k, d, width, height, 'plumb_bob',
        base_from_body=pose_matrix(1.5, 0.0, 1.6, 0.0, 0.05, 0.0))
    uv, valid = camera.project_base(points_base)          # (N, 2) pixels, (N,) bool
    origin, rays = camera.rays_base(uv)                    # (3,), (N, 3) unit vectors in base
"""

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial', 'none')
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-14)

#: Rotation (3, 3) taking optical-frame vectors (z forward, x right, y down) to the camera body
#: frame (x forward, y left, z up).
OPTICAL_TO_BODY = np.array([[0.0, 0.0, 1.0],
                            [-1.0, 0.0, 0.0],
                            [0.0, -1.0, 0.0]])


def pose_matrix(x: float = 0.0, y: float = 0.0, z: float = 0.0, roll: float = 0.0,
                pitch: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    """Return the (4, 4) float64 transform of a child frame in its parent frame.

    Args:
        x, y, z: the child's origin in the parent frame, metres.
        roll, pitch, yaw: radians, fixed axes x, y, z of the parent applied in that order (the
            ROS / tf2 ``setRPY`` convention): ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.

    Returns:
        ``T`` with ``p_parent = T[:3, :3] @ p_child + T[:3, 3]``.

    """
    values = np.array([x, y, z, roll, pitch, yaw], dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f'pose values must be finite, got {values.tolist()}')
    transform = np.eye(4)
    transform[:3, :3] = Rotation.from_euler('xyz', values[3:]).as_matrix()
    transform[:3, 3] = values[:3]
    return transform


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) transform to (N, 3) points; returns (N, 3) float64."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    transform = np.asarray(transform, dtype=np.float64)
    return points @ transform[:3, :3].T + transform[:3, 3]


def _check_transform(name: str, transform: np.ndarray) -> np.ndarray:
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape != (4, 4) or not np.isfinite(transform).all():
        raise ValueError(f'{name} must be a finite (4, 4) transform, got shape {transform.shape}')
    rotation = transform[:3, :3]
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) \
            or np.linalg.det(rotation) < 0.0:
        raise ValueError(f'{name}[:3, :3] must be a rotation matrix')
    return transform


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A calibrated camera: OpenCV pinhole intrinsics with distortion and a pose in ``base``.

    Attributes:
        k: (3, 3) float64 camera matrix, pixels.
        d: (n,) float64 distortion coefficients, OpenCV order (empty: none).
        width, height: image size, pixels.
        distortion_model: ``plumb_bob`` (5 coefficients), ``rational_polynomial`` (8) or
            ``none``.
        base_from_optical: (4, 4) float64 pose of the optical frame in ``base``.

    """

    k: np.ndarray
    d: np.ndarray
    width: int
    height: int
    distortion_model: str = 'plumb_bob'
    base_from_optical: np.ndarray = field(default_factory=lambda: body_pose_to_optical(np.eye(4)))

    def __post_init__(self):
        k = np.asarray(self.k, dtype=np.float64).reshape(-1)
        if k.shape != (9,) or not np.isfinite(k).all():
            raise ValueError('k must hold 9 finite values (row-major 3x3 camera matrix)')
        k = k.reshape(3, 3)
        if k[0, 0] <= 0.0 or k[1, 1] <= 0.0 or k[2, 2] != 1.0 or k[1, 0] or k[2, 0] or k[2, 1]:
            raise ValueError(f'k is not a camera matrix (fx, fy > 0, last row 0 0 1): {k}')
        if self.distortion_model not in DISTORTION_MODELS:
            raise ValueError(f'distortion_model {self.distortion_model!r} not supported; use '
                             f'one of {DISTORTION_MODELS}')
        d = np.asarray(self.d, dtype=np.float64).reshape(-1)
        if not np.isfinite(d).all():
            raise ValueError('distortion coefficients must be finite')
        if self.distortion_model == 'none' or not d.any():
            d = np.zeros(0)
        elif d.shape[0] not in (4, 5, 8):
            raise ValueError(f'{self.distortion_model} needs 4, 5 or 8 coefficients, '
                             f'got {d.shape[0]}')
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f'image size must be positive, got {self.width}x{self.height}')
        object.__setattr__(self, 'k', k)
        object.__setattr__(self, 'd', d)
        object.__setattr__(self, 'width', int(self.width))
        object.__setattr__(self, 'height', int(self.height))
        object.__setattr__(self, 'base_from_optical',
                           _check_transform('base_from_optical', self.base_from_optical))

    @classmethod
    def from_camera_info(cls, k: Sequence[float], d: Sequence[float], width: int, height: int,
                         distortion_model: str = 'plumb_bob',
                         base_from_body: Optional[np.ndarray] = None) -> 'CameraModel':
        """Build a camera from ``CameraInfo`` fields and the camera body's pose in ``base``.

        Args:
            k: 9 values of ``CameraInfo.k`` (row-major camera matrix).
            d: ``CameraInfo.d``.
            width, height: ``CameraInfo.width`` / ``height``.
            distortion_model: ``CameraInfo.distortion_model`` (empty string = ``plumb_bob``).
            base_from_body: (4, 4) pose of the camera body frame (x forward, z up) in
                ``base``, e.g. ``pose_matrix(...)`` of the parameters; identity when None.

        """
        body = np.eye(4) if base_from_body is None else _check_transform(
            'base_from_body', base_from_body)
        return cls(k=k, d=d, width=width, height=height,
                   distortion_model=distortion_model or 'plumb_bob',
                   base_from_optical=body_pose_to_optical(body))

    @property
    def optical_from_base(self) -> np.ndarray:
        """(4, 4) transform from ``base`` to the optical frame."""
        return np.linalg.inv(self.base_from_optical)

    @property
    def origin_base(self) -> np.ndarray:
        """(3,) optical centre in ``base``, metres."""
        return self.base_from_optical[:3, 3].copy()

    def with_pose(self, base_from_optical: np.ndarray) -> 'CameraModel':
        """Return the same intrinsics with another optical-frame pose."""
        return CameraModel(self.k, self.d, self.width, self.height, self.distortion_model,
                           base_from_optical)

    def project(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Project optical-frame points into the image.

        Args:
            points: (N, 3) metres in the optical frame.

        Returns:
            ``uv`` (N, 2) float64 pixels (NaN where invalid) and ``valid`` (N,) bool: in front
            of the camera and inside the image's undistorted field of view (guards against
            distortion polynomials folding far-off points back into the image).

        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        uv = np.full((points.shape[0], 2), np.nan)
        z = points[:, 2]
        front = np.isfinite(points).all(axis=1) & (z > 1e-6)
        if not front.any():
            return uv, front
        normalized = points[front, :2] / z[front, None]
        low, high = self._normalized_bounds()
        inside = ((normalized >= low) & (normalized <= high)).all(axis=1)
        valid = front.copy()
        valid[front] = inside
        if inside.any():
            projected, _ = cv2.projectPoints(
                points[valid].reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self.k, self.d)
            uv[valid] = projected.reshape(-1, 2)
        return uv, valid

    def project_base(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) ``base`` points; see ``project``."""
        return self.project(transform_points(self.optical_from_base, points))

    def normalized(self, uv: np.ndarray) -> np.ndarray:
        """Undistort (N, 2) pixels to (N, 2) normalized coordinates ``x / z, y / z``."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        if uv.shape[0] == 0:
            return np.zeros((0, 2))
        if self.d.shape[0] == 0:
            return (uv - self.k[:2, 2]) / np.diag(self.k)[:2]
        # cv2.undistortPoints stops after 5 fixed-point iterations (errors of 1e-3 near the
        # border with strong distortion); iterate to convergence instead.
        return cv2.undistortPoints(uv.reshape(-1, 1, 2), self.k, self.d, None, None, None,
                                   _UNDISTORT_CRITERIA).reshape(-1, 2)

    def rays(self, uv: np.ndarray) -> np.ndarray:
        """Return (N, 3) unit rays in the optical frame through (N, 2) pixels."""
        normalized = self.normalized(uv)
        rays = np.concatenate((normalized, np.ones((normalized.shape[0], 1))), axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def unproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Return (N, 3) optical-frame points of pixels (N, 2) at optical z ``depth`` (N,) m."""
        normalized = self.normalized(uv)
        depth = np.asarray(depth, dtype=np.float64).reshape(-1, 1)
        return np.concatenate((normalized * depth, depth), axis=1)

    def rays_base(self, uv: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Return the optical centre (3,) and (N, 3) unit rays through pixels, in ``base``."""
        return self.origin_base, self.rays(uv) @ self.base_from_optical[:3, :3].T

    def _normalized_bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        """Return the normalized-coordinate box (2,), (2,) the image sees, with a 10 % margin."""
        cached = self.__dict__.get('_bounds')
        if cached is None:
            xs = np.linspace(0.0, self.width, 17)
            ys = np.linspace(0.0, self.height, 17)
            border = np.concatenate([
                np.stack((xs, np.zeros_like(xs)), 1),
                np.stack((xs, np.full_like(xs, self.height)), 1),
                np.stack((np.zeros_like(ys), ys), 1),
                np.stack((np.full_like(ys, self.width), ys), 1)])
            normalized = self.normalized(border)
            low, high = normalized.min(axis=0), normalized.max(axis=0)
            margin = 0.1 * (high - low)
            cached = (low - margin, high + margin)
            object.__setattr__(self, '_bounds', cached)
        return cached


def body_pose_to_optical(base_from_body: np.ndarray) -> np.ndarray:
    """Return the optical frame's (4, 4) pose in ``base`` from the camera body's pose."""
    optical = np.array(base_from_body, dtype=np.float64)
    optical[:3, :3] = optical[:3, :3] @ OPTICAL_TO_BODY
    return optical


def camera_from_projection_matrix(p: np.ndarray, width: int, height: int,
                                  reference_from_base: Optional[np.ndarray] = None
                                  ) -> CameraModel:
    """Build a distortion-free camera from a (3, 4) projection matrix ``P = K [R | t]``.

    For KITTI's rectified ``P2`` (``R = I``) the reference frame is the rectified camera 0
    frame (optical convention) in which the labels' 3D locations are given.

    Args:
        p: (3, 4) projection matrix, pixels.
        width, height: image size, pixels.
        reference_from_base: (4, 4) pose of ``base`` in the reference frame of ``p``; identity
            when None (``base`` is then the reference frame itself).

    Returns:
        the camera, its optical frame placed at the centre and orientation ``p`` implies.

    """
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (3, 4) or not np.isfinite(p).all():
        raise ValueError(f'projection matrix must be finite (3, 4), got {p.shape}')
    k, rotation, centre = cv2.decomposeProjectionMatrix(p)[:3]
    if abs(centre[3, 0]) < 1e-12:
        raise ValueError('projection matrix has its centre at infinity')
    reference_from_optical = np.eye(4)
    reference_from_optical[:3, :3] = rotation.T
    reference_from_optical[:3, 3] = centre[:3, 0] / centre[3, 0]
    base_from_reference = np.linalg.inv(
        np.eye(4) if reference_from_base is None else reference_from_base)
    return CameraModel(k=k / k[2, 2], d=(), width=width, height=height, distortion_model='none',
                       base_from_optical=base_from_reference @ reference_from_optical)
