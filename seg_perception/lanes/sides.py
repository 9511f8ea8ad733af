"""Which lane lines bound the ego lane: from ground positions, else from image positions."""

from typing import List, Optional, Sequence

import numpy as np

from seg_perception.lanes.structures import LaneLine

#: Largest lateral offset (m) of a line at the reference distance to bound the ego lane.
EGO_MAX_OFFSET_M = 3.0


def _offset_near(line: LaneLine, reference_m: float) -> float:
    """Lateral offset at ``reference_m`` ahead, or at the nearest point seen beyond it."""
    offset = line.lateral_offset_at(reference_m)
    if np.isfinite(offset) or line.ground_points.shape[0] == 0:
        return offset
    points = line.ground_points
    ahead = points[points[:, 0] > 0.0]
    if ahead.shape[0] == 0:
        return float('nan')
    return float(ahead[np.argmin(np.abs(ahead[:, 0] - reference_m)), 1])


def mark_ego_sides(lines: Sequence[LaneLine], image_width: Optional[int] = None,
                   reference_m: float = 8.0) -> List[LaneLine]:
    """Mark the nearest line left and right of the vehicle as the ego lane's boundaries.

    With ground points: the line of smallest positive lateral offset (within
    ``EGO_MAX_OFFSET_M``) at ``reference_m`` ahead is ``ego_left``, of largest negative one
    ``ego_right``. Without them (no camera known): the line whose bottom x is nearest the image
    centre on each side, when ``image_width`` is given. Other lines are ``other``.
    """
    lines = [line.with_updates(side='other') for line in lines]
    offsets = np.full(len(lines), np.nan)
    if lines and all(line.ground_points.shape[0] >= 2 for line in lines):
        offsets = np.array([_offset_near(line, reference_m) for line in lines])
        offsets[np.abs(offsets) > EGO_MAX_OFFSET_M] = np.nan
    elif image_width is not None:
        offsets = np.array([(image_width / 2.0 - line.x_at(line.y_bottom)) for line in lines],
                           dtype=np.float64)
    for side, sign in (('ego_left', 1.0), ('ego_right', -1.0)):
        candidates = [i for i in range(len(lines))
                      if np.isfinite(offsets[i]) and sign * offsets[i] > 0.0]
        if candidates:
            best = min(candidates, key=lambda i: abs(offsets[i]))
            lines[best] = lines[best].with_updates(side=side)
    return lines
