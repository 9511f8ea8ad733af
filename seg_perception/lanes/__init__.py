"""Lane lines as instances: grouping of lane pixels, a lane tracker, lifting onto the ground."""

from seg_perception.lanes.extractor import LaneConfig, LaneExtractor, lanes_on_ground
from seg_perception.lanes.grouping import group_lane_pixels, LaneGroupingConfig
from seg_perception.lanes.structures import LaneLine, SIDES, STYLES
from seg_perception.lanes.tracker import LaneTracker, LaneTrackerConfig

__all__ = ['LaneConfig', 'LaneExtractor', 'LaneGroupingConfig', 'LaneLine', 'LaneTracker',
           'LaneTrackerConfig', 'SIDES', 'STYLES', 'group_lane_pixels', 'lanes_on_ground']
