"""A lane line as one object: image polyline, fitted curve, style, id and ground shape.

Image coordinates are input-image pixels (x right, y down, origin at the top-left pixel's
corner). Ground points are metres in ``base`` (REP-103: x forward, y left, z up).
"""

from dataclasses import dataclass, field, replace
from typing import Tuple

import numpy as np

#: Styles a lane line can have; ``unknown`` when the evidence does not tell.
STYLES = ('unknown', 'solid', 'dashed')
#: Sides relative to the ego vehicle: the boundaries of the ego lane, or any other line.
SIDES = ('other', 'ego_left', 'ego_right')


@dataclass(frozen=True)
class LaneLine:
    """One lane line in one frame.

    Attributes:
        coefficients: polynomial ``x = p(y)`` in input pixels, highest power first (numpy
            ``polyval`` order); degree 1 or 2 from lane pixels, 3 from a lane backend.
        y_top, y_bottom: the rows the line spans in the image, pixels (``y_top < y_bottom``).
        image_points: (N, 2) float64 pixels (x, y) along the line, from the bottom up.
        confidence: in [0, 1].
        style: one of ``STYLES``.
        lane_id: id of the lane track (>= 1), 0 before tracking.
        side: one of ``SIDES``.
        ground_points: (M, 3) float64 metres in ``base``, nearest first; empty (0, 3) when the
            camera is not known.

    """

    coefficients: Tuple[float, ...]
    y_top: float
    y_bottom: float
    image_points: np.ndarray
    confidence: float = 1.0
    style: str = 'unknown'
    lane_id: int = 0
    side: str = 'other'
    ground_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f'lane style {self.style!r} is not one of {STYLES}')
        if self.side not in SIDES:
            raise ValueError(f'lane side {self.side!r} is not one of {SIDES}')
        if not self.y_top < self.y_bottom:
            raise ValueError(f'lane rows must satisfy y_top < y_bottom, got {self.y_top}, '
                             f'{self.y_bottom}')

    def x_at(self, y: np.ndarray) -> np.ndarray:
        """Return the curve's x (pixels) at rows ``y`` (any shape, float64)."""
        return np.polyval(np.asarray(self.coefficients), np.asarray(y, dtype=np.float64))

    def with_updates(self, **changes) -> 'LaneLine':
        """Return a copy with some fields replaced."""
        return replace(self, **changes)

    def lateral_offset_at(self, forward_m: float) -> float:
        """Return the line's ``y`` (m, left positive) at ``x = forward_m`` in ``base``.

        NaN when the ground points do not reach that distance.
        """
        points = self.ground_points
        if points.shape[0] < 2:
            return float('nan')
        order = np.argsort(points[:, 0])
        xs, ys = points[order, 0], points[order, 1]
        if not xs[0] <= forward_m <= xs[-1]:
            return float('nan')
        return float(np.interp(forward_m, xs, ys))


def polyline_from_curve(coefficients: Tuple[float, ...], y_top: float, y_bottom: float,
                        step_px: float) -> np.ndarray:
    """Sample ``x = p(y)`` from ``y_bottom`` up to ``y_top`` every ``step_px`` rows.

    Returns:
        (N, 2) float64 (x, y), N >= 2, bottom first.

    """
    count = max(int(np.ceil((y_bottom - y_top) / step_px)) + 1, 2)
    ys = np.linspace(y_bottom, y_top, count)
    return np.stack((np.polyval(np.asarray(coefficients), ys), ys), axis=1)
