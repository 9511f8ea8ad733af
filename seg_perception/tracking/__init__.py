"""Per-camera multi-object tracking of segments: motion model, association, tracker state."""

from seg_perception.tracking.association import crops_from_instance_map, MaskCrop
from seg_perception.tracking.config import ClassSettings
from seg_perception.tracking.ids import TrackIdCounter
from seg_perception.tracking.kalman import KalmanConfig
from seg_perception.tracking.tracker import ActiveTrack, Tracker, TrackerConfig, TrackState

__all__ = ['ActiveTrack', 'ClassSettings', 'crops_from_instance_map', 'KalmanConfig', 'MaskCrop',
           'TrackIdCounter', 'Tracker', 'TrackerConfig', 'TrackState']
