"""Constant-velocity Kalman filter over many image boxes at once.

A box is tracked as four independent coordinates ``(cx, cy, w, h)`` (centre and size, pixels),
each with its own velocity (pixels per second). With position-only measurements, diagonal
measurement noise and per-coordinate process noise the four 2-state filters never couple, so the
covariance of one box is stored as three (4,) arrays (``p_pp``, ``p_pv``, ``p_vv``) instead of an
(8, 8) matrix: every step is a handful of element-wise numpy operations over all boxes.

Noise is relative to the box size (a far, small car moves fewer pixels than a near one) and the
process noise grows with the real time elapsed ``dt`` (white-noise acceleration model), so a
track that was not seen for a second has a wider gate than one seen 0.1 s ago.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class KalmanConfig:
    """Noise levels, as fractions of the box's width (x, w) or height (y, h).

    Attributes:
        measurement_std: std of a measured coordinate, box sizes.
        acceleration_std: std of the white-noise acceleration, box sizes per s^2.
        init_position_std: std of a new track's coordinates, box sizes.
        init_velocity_std: std of a new track's velocities, box sizes per s.
        min_size: smallest width or height kept, pixels (guards against sizes running negative
            while a track is predicted without measurements).

    """

    measurement_std: float = 0.04
    acceleration_std: float = 1.0
    init_position_std: float = 0.1
    init_velocity_std: float = 4.0
    min_size: float = 1.0

    def __post_init__(self):
        for name in ('measurement_std', 'acceleration_std', 'init_position_std',
                     'init_velocity_std', 'min_size'):
            if not getattr(self, name) > 0.0:
                raise ValueError(f'KalmanConfig.{name} must be > 0, got {getattr(self, name)}')


class BoxStates:
    """Kalman states of N boxes, packed in one (5, N, 4) float64 array (the tracker slices it).

    ``data[k]`` is (N, 4), one column per coordinate ``cx, cy, w, h``: k = 0 the positions
    (pixels), 1 the velocities (pixels / s), 2 the position variances (pixels^2), 3 the
    position-velocity covariances (pixels^2 / s), 4 the velocity variances (pixels^2 / s^2).
    One array makes selecting, appending and writing back tracks one numpy operation each, and
    keeps every moment contiguous.
    """

    __slots__ = ('data',)

    def __init__(self, data: np.ndarray):
        if data.ndim != 3 or data.shape[0] != 5 or data.shape[2] != 4:
            raise ValueError(f'BoxStates needs a (5, N, 4) array, got {data.shape}')
        self.data = data

    def __len__(self) -> int:
        return self.data.shape[1]

    @classmethod
    def empty(cls) -> 'BoxStates':
        """Return states of zero boxes."""
        return cls(np.zeros((5, 0, 4)))

    @property
    def pos(self) -> np.ndarray:
        """(N, 4) ``cx, cy, w, h``, pixels (a view)."""
        return self.data[0]

    @property
    def vel(self) -> np.ndarray:
        """(N, 4) velocities, pixels per second (a view)."""
        return self.data[1]

    @property
    def p_pp(self) -> np.ndarray:
        """(N, 4) position variances, pixels^2 (a view)."""
        return self.data[2]

    @property
    def p_pv(self) -> np.ndarray:
        """(N, 4) position-velocity covariances, pixels^2 / s (a view)."""
        return self.data[3]

    @property
    def p_vv(self) -> np.ndarray:
        """(N, 4) velocity variances, pixels^2 / s^2 (a view)."""
        return self.data[4]

    def select(self, index: np.ndarray) -> 'BoxStates':
        """Return the states at ``index`` (boolean mask or integer indices), as a copy."""
        return BoxStates(self.data[:, index])

    def assign(self, index: np.ndarray, other: 'BoxStates') -> None:
        """Overwrite the states at integer ``index`` with ``other``'s, in place."""
        self.data[:, index] = other.data

    def concat(self, other: 'BoxStates') -> 'BoxStates':
        """Return these states followed by ``other``'s."""
        return BoxStates(np.concatenate((self.data, other.data), axis=1))

    def boxes(self) -> np.ndarray:
        """Return the estimated boxes, (N, 4) float64 ``x_min, y_min, x_max, y_max`` pixels."""
        return cxcywh_to_xyxy(self.pos)


# Row-vector maps between ``cx, cy, w, h`` and ``x_min, y_min, x_max, y_max``: one matmul each.
_TO_XYXY = np.array([[1.0, 0.0, 1.0, 0.0],
                     [0.0, 1.0, 0.0, 1.0],
                     [-0.5, 0.0, 0.5, 0.0],
                     [0.0, -0.5, 0.0, 0.5]])
_TO_CXCYWH = np.array([[0.5, 0.0, -1.0, 0.0],
                       [0.0, 0.5, 0.0, -1.0],
                       [0.5, 0.0, 1.0, 0.0],
                       [0.0, 0.5, 0.0, 1.0]])
# Coordinate -> which size its noise scales with: cx, w with the width; cy, h with the height.
_SCALE_INDEX = np.array([2, 3, 2, 3])


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """Convert (N, 4) ``x_min, y_min, x_max, y_max`` to (N, 4) ``cx, cy, w, h`` (float64)."""
    return np.asarray(boxes, dtype=np.float64) @ _TO_CXCYWH


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Convert (N, 4) ``cx, cy, w, h`` to (N, 4) ``x_min, y_min, x_max, y_max`` (float64)."""
    return np.asarray(boxes, dtype=np.float64) @ _TO_XYXY


def _scale(pos: np.ndarray) -> np.ndarray:
    """Per-coordinate size the noise is relative to: (N, 4) ``w, h, w, h``."""
    return pos[:, _SCALE_INDEX]


class BoxKalmanFilter:
    """Initiates, predicts and corrects ``BoxStates``; stateless apart from its config."""

    def __init__(self, config: KalmanConfig = KalmanConfig()):
        self.config = config

    def initiate(self, boxes: np.ndarray) -> BoxStates:
        """Start states at measured boxes, at rest.

        Args:
            boxes: (N, 4) ``x_min, y_min, x_max, y_max`` pixels.

        Returns:
            N states with zero velocity and the configured initial uncertainty.

        """
        pos = xyxy_to_cxcywh(boxes)
        pos[:, 2:] = np.maximum(pos[:, 2:], self.config.min_size)
        scale_sq = np.square(_scale(pos))
        data = np.zeros((5,) + pos.shape)
        data[0] = pos
        data[2] = self.config.init_position_std ** 2 * scale_sq
        data[4] = self.config.init_velocity_std ** 2 * scale_sq
        return BoxStates(data)

    def predict(self, states: BoxStates, dt: float,
                acceleration_factor: Optional[np.ndarray] = None) -> BoxStates:
        """Advance all states by ``dt`` seconds (>= 0); returns new states.

        Args:
            states: N states.
            dt: seconds.
            acceleration_factor: optional (N,) factor on ``acceleration_std`` per box (e.g.
                per class); 1 when None.

        """
        if dt < 0.0:
            raise ValueError(f'dt must be >= 0 seconds, got {dt}')
        if len(states) == 0 or dt == 0.0:
            return states
        # The moments propagate linearly: pos += dt vel, p_pp += 2 dt p_pv + dt^2 p_vv,
        # p_pv += dt p_vv; one (5, 5) matrix product does it for all boxes.
        transition = np.array([[1.0, dt, 0.0, 0.0, 0.0],
                               [0.0, 1.0, 0.0, 0.0, 0.0],
                               [0.0, 0.0, 1.0, 2.0 * dt, dt * dt],
                               [0.0, 0.0, 0.0, 1.0, dt],
                               [0.0, 0.0, 0.0, 0.0, 1.0]])
        old = states.data
        new = (transition @ old.reshape(5, -1)).reshape(old.shape)
        # White-noise acceleration of spectral density q adds q dt^3/3, q dt^2/2 and q dt.
        q = np.square(self.config.acceleration_std * _scale(old[0]))
        if acceleration_factor is not None:
            q *= np.square(acceleration_factor)[:, None]
        new[2] += (dt ** 3 / 3.0) * q
        new[3] += (dt ** 2 / 2.0) * q
        new[4] += dt * q
        np.maximum(new[0, :, 2:], self.config.min_size, out=new[0, :, 2:])
        return BoxStates(new)

    def update(self, states: BoxStates, boxes: np.ndarray) -> BoxStates:
        """Correct states with one measured box each.

        Args:
            states: N predicted states.
            boxes: (N, 4) measured ``x_min, y_min, x_max, y_max`` pixels, row i for state i.

        Returns:
            the N corrected states.

        """
        z = xyxy_to_cxcywh(boxes)
        old = states.data
        if z.shape != old.shape[1:]:
            raise ValueError(f'{len(states)} states but boxes of shape {np.shape(boxes)}')
        innovation_var = old[2] + np.square(self.config.measurement_std * _scale(z))
        gain_p = old[2] / innovation_var
        gain_v = old[3] / innovation_var
        residual = z - old[0]
        new = np.empty_like(old)
        new[0] = old[0] + gain_p * residual
        new[1] = old[1] + gain_v * residual
        one_minus = 1.0 - gain_p
        new[2] = one_minus * old[2]
        new[3] = one_minus * old[3]
        new[4] = old[4] - gain_v * old[3]
        np.maximum(new[0, :, 2:], self.config.min_size, out=new[0, :, 2:])
        return BoxStates(new)

    def restart(self, boxes: np.ndarray, previous_boxes: np.ndarray,
                gap_s: np.ndarray) -> BoxStates:
        """Start states at measured boxes moving from earlier observations (no prediction).

        Observation-centric re-update: after a gap the predicted velocity is stale, so the
        state is set as two measurements ``gap_s`` apart determine it.

        Args:
            boxes: (N, 4) measured ``x_min, y_min, x_max, y_max`` pixels, now.
            previous_boxes: (N, 4) the same objects' earlier measured boxes, pixels.
            gap_s: (N,) seconds between the two (> 0).

        Returns:
            N states: position the measurement, velocity the displacement over the gap, with
            the variances of a two-measurement estimate.

        """
        pos = xyxy_to_cxcywh(boxes)
        pos[:, 2:] = np.maximum(pos[:, 2:], self.config.min_size)
        gap = np.maximum(np.asarray(gap_s, dtype=np.float64), 1e-3)[:, None]
        r = np.square(self.config.measurement_std * _scale(pos))
        data = np.empty((5,) + pos.shape)
        data[0] = pos
        data[1] = (pos - xyxy_to_cxcywh(previous_boxes)) / gap
        data[2] = r
        data[3] = r / gap
        data[4] = 2.0 * r / np.square(gap)
        return BoxStates(data)
