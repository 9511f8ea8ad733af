"""Per-camera lane stage: lane pixels (or a lane backend's curves) -> tracked lane lines."""

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

from seg_perception.lanes.grouping import group_lane_pixels, LaneGroupingConfig
from seg_perception.lanes.sides import mark_ego_sides
from seg_perception.lanes.structures import LaneLine
from seg_perception.lanes.tracker import LaneTracker, LaneTrackerConfig


@dataclass(frozen=True)
class LaneConfig:
    """Settings of the lane stage: grouping of pixels and tracking."""

    grouping: LaneGroupingConfig = field(default_factory=LaneGroupingConfig)
    tracking: LaneTrackerConfig = field(default_factory=LaneTrackerConfig)


class LaneExtractor:
    """Finds, tracks and marks the lane lines of one camera's frames."""

    def __init__(self, config: LaneConfig = LaneConfig()):
        self.config = config
        self.tracker = LaneTracker(config.tracking)

    def reset(self) -> None:
        """Forget the lane tracks (ids are never reused)."""
        self.tracker.reset()

    def update(self, image_size: Tuple[int, int], lane_mask: Optional[np.ndarray] = None,
               lines: Optional[Sequence[LaneLine]] = None) -> Tuple[LaneLine, ...]:
        """Return one frame's tracked lane lines.

        Args:
            image_size: (height, width) of the input image.
            lane_mask: (h, w) bool lane-marking pixels at any resolution (grouped into lines).
            lines: lines a lane backend found directly (input pixels); used instead of the mask.

        """
        if lines is None:
            lines = [] if lane_mask is None else group_lane_pixels(
                lane_mask, image_size, self.config.grouping)
        tracked = self.tracker.update(list(lines), image_size)
        return tuple(mark_ego_sides(tracked, image_size[1]))
