"""Camera intrinsics as sensor_msgs/CameraInfo carries them, without ROS types."""

from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass(frozen=True)
class CameraCalibration:
    """Intrinsics of one camera, as sensor_msgs/CameraInfo holds them.

    Attributes:
        width: image width, pixels.
        height: image height, pixels.
        k: row-major 3x3 intrinsic matrix (fx, 0, cx, 0, fy, cy, 0, 0, 1), pixels.
        d: distortion coefficients of ``distortion_model``.
        distortion_model: ``'plumb_bob'``, ``'rational_polynomial'``, ``'equidistant'``...
        r: row-major 3x3 rectification rotation.
        p: row-major 3x4 projection matrix, pixels.

    """

    width: int
    height: int
    k: Tuple[float, ...]
    d: Tuple[float, ...] = ()
    distortion_model: str = 'plumb_bob'
    r: Tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    p: Tuple[float, ...] = ()

    def check(self) -> None:
        """Raise ValueError naming the first field that no real camera could have."""
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'camera size {self.width}x{self.height} must be positive')
        for name, values, size in (('K', self.k, 9), ('R', self.r, 9), ('P', self.p, 12)):
            if len(values) != size:
                raise ValueError(f'{name} must hold {size} numbers, got {len(values)}')
            if not np.all(np.isfinite(values)):
                raise ValueError(f'{name} holds a NaN or infinite value')
        if not np.all(np.isfinite(self.d)):
            raise ValueError('D (distortion) holds a NaN or infinite value')
        if self.k[0] <= 0 or self.k[4] <= 0:
            raise ValueError(f'focal lengths fx={self.k[0]}, fy={self.k[4]} must be positive')

    def camera_matrix(self) -> np.ndarray:
        """Return K as a (3, 3) float64 array, pixels."""
        return np.asarray(self.k, dtype=np.float64).reshape(3, 3)
