"""Lane tracker: lane lines keep their id across frames while they stay where they were.

Each line is compared by its x at a few rows of the lower image (where lines are far apart
and best seen), on the rows where both it and the track are inside the image (outer lines run
out of the image at the sides, where their extrapolated x says little); lines and tracks are
matched by the Hungarian algorithm on the mean distance at those rows, gated; a track not seen
for ``max_missed`` frames ends; ids are never reused.
"""

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from seg_perception.lanes.structures import LaneLine


@dataclass(frozen=True)
class LaneTrackerConfig:
    """Settings of ``LaneTracker``.

    Attributes:
        compare_rows: rows compared, as fractions of the image height.
        gate: largest mean x distance (fraction of the image width) of a match.
        max_missed: frames a track survives unseen.
        smoothing: weight of the track's previous x positions in its stored shape (0: none);
            the published line is the frame's own.

    """

    compare_rows: Sequence[float] = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    gate: float = 0.06
    max_missed: int = 5
    smoothing: float = 0.5


@dataclass
class _LaneTrack:
    lane_id: int
    xs: np.ndarray
    missed: int = 0
    hits: int = 1


def _distance(xs_a: np.ndarray, xs_b: np.ndarray, width: float) -> float:
    """Mean |x difference| / width on rows both span and are inside the image on.

    Rows outside the image are used when there are no others; inf when no row is shared.
    """
    both = np.isfinite(xs_a) & np.isfinite(xs_b)
    inside = both & (xs_a >= 0) & (xs_a <= width) & (xs_b >= 0) & (xs_b <= width)
    if not inside.any():
        inside = both
    if not inside.any():
        return float('inf')
    return float(np.mean(np.abs(xs_a[inside] - xs_b[inside]))) / width


class LaneTracker:
    """Gives lane lines ids that stay the same from frame to frame (one tracker per camera)."""

    def __init__(self, config: LaneTrackerConfig = LaneTrackerConfig()):
        self.config = config
        self._tracks: List[_LaneTrack] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every track (ids are still never reused)."""
        self._tracks = []

    def _profile(self, line: LaneLine, height: int) -> np.ndarray:
        rows = np.asarray(self.config.compare_rows, dtype=np.float64) * height
        xs = line.x_at(rows)
        xs[(rows < line.y_top) | (rows > line.y_bottom)] = np.nan
        return xs

    def update(self, lines: Sequence[LaneLine], image_size) -> List[LaneLine]:
        """Assign ids to one frame's lines.

        Args:
            lines: the frame's lines (their ``lane_id`` is ignored).
            image_size: (height, width) of the image, pixels.

        Returns:
            the lines with ``lane_id`` set, in the order given.

        """
        height, width = image_size
        profiles = [self._profile(line, height) for line in lines]
        cost = np.full((len(lines), len(self._tracks)), np.inf)
        for i, profile in enumerate(profiles):
            for j, track in enumerate(self._tracks):
                cost[i, j] = _distance(profile, track.xs, width)
        assigned = {}
        if cost.size:
            finite = np.where(cost <= self.config.gate, cost, 1e6)
            for i, j in zip(*linear_sum_assignment(finite)):
                if cost[i, j] <= self.config.gate:
                    assigned[i] = j
        out = []
        seen = set()
        for i, line in enumerate(lines):
            if i in assigned:
                track = self._tracks[assigned[i]]
                alpha = self.config.smoothing
                track.xs = np.where(np.isfinite(track.xs) & np.isfinite(profiles[i]),
                                    alpha * track.xs + (1.0 - alpha) * profiles[i],
                                    np.where(np.isfinite(profiles[i]), profiles[i], track.xs))
                track.missed, track.hits = 0, track.hits + 1
            else:
                track = _LaneTrack(self._next_id, profiles[i])
                self._next_id += 1
                self._tracks.append(track)
            seen.add(track.lane_id)
            out.append(line.with_updates(lane_id=track.lane_id))
        for track in self._tracks:
            if track.lane_id not in seen:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.config.max_missed]
        return out
