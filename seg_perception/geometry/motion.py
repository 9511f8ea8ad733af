"""3D motion of tracks: a constant-velocity Kalman filter over base-frame x, y per track id.

State ``x, y, vx, vy`` (m, m/s) in ``base``, white-noise acceleration of spectral density
``acceleration_std**2``; measurements are lifted positions (x, y) with a per-measurement
standard deviation (monocular positions are worse far away, LiDAR ones are good). Stamps are
integer nanoseconds (the image headers'). A track not updated for ``max_age_s`` is forgotten;
a stamp going back restarts that track's filter. ``base`` must be a frame that does not move
with the vehicle (``odom``, ``map``) for the velocity to be over ground; in a vehicle frame it
is the velocity relative to the ego vehicle.
"""

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class MotionConfig:
    """Settings of the 3D motion model.

    Attributes:
        acceleration_std: white-noise acceleration, m/s^2 (2: a car braking or turning).
        measurement_std: default position noise of a measurement, m.
        init_velocity_std: velocity uncertainty of a new track, m/s.
        max_age_s: a track not updated for this long is dropped.

    """

    acceleration_std: float = 2.0
    measurement_std: float = 0.5
    init_velocity_std: float = 10.0
    max_age_s: float = 2.0

    def __post_init__(self):
        for name in ('acceleration_std', 'measurement_std', 'init_velocity_std', 'max_age_s'):
            if not getattr(self, name) > 0.0:
                raise ValueError(f'MotionConfig.{name} must be > 0')


@dataclass
class _TrackState:
    mean: np.ndarray        # (4,)
    covariance: np.ndarray  # (4, 4)
    stamp_ns: int


class MotionModel:
    """Constant-velocity Kalman filters keyed by track id (one model per camera or per base)."""

    def __init__(self, config: MotionConfig = MotionConfig()):
        self.config = config
        self._tracks: Dict[int, _TrackState] = {}

    def __len__(self) -> int:
        """Return the number of tracks held."""
        return len(self._tracks)

    def update(self, track_id: int, position: np.ndarray, stamp_ns: int,
               measurement_std: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Correct (or start) a track with a measured position.

        Args:
            track_id: the tracker's id.
            position: (2,) measured x, y in ``base``, m (a (3,) position's z is ignored).
            stamp_ns: the measurement's time, ns.
            measurement_std: its position noise, m (``config.measurement_std`` when None).

        Returns:
            filtered position (2,) m and velocity (2,) m/s.

        """
        z = np.asarray(position, dtype=np.float64).reshape(-1)[:2]
        if z.shape != (2,) or not np.isfinite(z).all():
            raise ValueError(f'position must hold finite x, y, got {position}')
        std = self.config.measurement_std if measurement_std is None else float(measurement_std)
        if not std > 0.0:
            raise ValueError(f'measurement_std must be > 0, got {measurement_std}')
        stamp_ns = int(stamp_ns)
        state = self._tracks.get(track_id)
        if state is None or stamp_ns < state.stamp_ns:
            state = self._start(z, std, stamp_ns)
        else:
            self._predict(state, (stamp_ns - state.stamp_ns) * 1e-9)
            state.stamp_ns = stamp_ns
            self._correct(state, z, std)
        self._tracks[track_id] = state
        return state.mean[:2].copy(), state.mean[2:].copy()

    def state(self, track_id: int) -> Optional[Tuple[np.ndarray, np.ndarray, int]]:
        """Return (position (2,), velocity (2,), stamp_ns) of a track's last update, or None."""
        state = self._tracks.get(track_id)
        if state is None:
            return None
        return state.mean[:2].copy(), state.mean[2:].copy(), state.stamp_ns

    def prune(self, stamp_ns: int) -> None:
        """Forget tracks not updated within ``max_age_s`` before ``stamp_ns``."""
        limit = int(self.config.max_age_s * 1e9)
        for track_id in [t for t, s in self._tracks.items() if stamp_ns - s.stamp_ns > limit]:
            del self._tracks[track_id]

    def reset(self) -> None:
        """Forget every track."""
        self._tracks.clear()

    def _start(self, z: np.ndarray, std: float, stamp_ns: int) -> _TrackState:
        covariance = np.diag([std ** 2, std ** 2, self.config.init_velocity_std ** 2,
                              self.config.init_velocity_std ** 2])
        return _TrackState(np.concatenate((z, np.zeros(2))), covariance, stamp_ns)

    def _predict(self, state: _TrackState, dt: float) -> None:
        if dt <= 0.0:
            return
        transition = np.eye(4)
        transition[0, 2] = transition[1, 3] = dt
        q = self.config.acceleration_std ** 2
        block = q * np.array([[dt ** 3 / 3.0, dt ** 2 / 2.0], [dt ** 2 / 2.0, dt]])
        noise = np.zeros((4, 4))
        noise[np.ix_([0, 2], [0, 2])] = block
        noise[np.ix_([1, 3], [1, 3])] = block
        state.mean = transition @ state.mean
        state.covariance = transition @ state.covariance @ transition.T + noise

    @staticmethod
    def _correct(state: _TrackState, z: np.ndarray, std: float) -> None:
        innovation_cov = state.covariance[:2, :2] + np.eye(2) * std ** 2
        gain = np.linalg.solve(innovation_cov, state.covariance[:2, :]).T   # (4, 2)
        state.mean = state.mean + gain @ (z - state.mean[:2])
        identity_minus = np.eye(4)
        identity_minus[:, :2] -= gain
        state.covariance = identity_minus @ state.covariance
        state.covariance = (state.covariance + state.covariance.T) / 2.0
