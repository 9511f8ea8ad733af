"""Track records of the tracker: life-cycle states, per-track arrays, the public snapshot."""

from dataclasses import dataclass
import enum
from typing import List, Optional, Tuple

import numpy as np

from seg_perception.tracking.association import MaskCrop
from seg_perception.tracking.kalman import BoxStates


class TrackState(enum.IntEnum):
    """Life cycle of a track."""

    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2
    REMOVED = 3


#: ``TrackState.TENTATIVE`` as a plain int (IntEnum attribute access is slow in a hot loop).
TENTATIVE = int(TrackState.TENTATIVE)


@dataclass(frozen=True)
class ActiveTrack:
    """A confirmed track as the tracker sees it now (after the last ``update``).

    Attributes:
        track_id: id unique within the tracker's lifetime (>= 1).
        class_id: canonical class id.
        state: ``TrackState.CONFIRMED`` (matched in the last update) or ``TrackState.LOST``.
        score: score of the last matched detection, [0, 1].
        bbox: Kalman estimate ``x_min, y_min, x_max, y_max`` at the last stamp, pixels.
        velocity: ``(vcx, vcy, vw, vh)`` of centre and size, pixels per second.
        age_s: time since the track's first detection, seconds.
        time_since_update_s: time since its last matched detection, seconds.
        hits: number of matched detections.

    """

    track_id: int
    class_id: int
    state: TrackState
    score: float
    bbox: Tuple[float, float, float, float]
    velocity: Tuple[float, float, float, float]
    age_s: float
    time_since_update_s: float
    hits: int


class TrackTable:
    """Per-track arrays of equal length (one row per live track)."""

    def __init__(self):
        self.states = BoxStates.empty()
        self.last_boxes = np.zeros((0, 4))
        self.acceleration = np.zeros(0)
        self.buffer = np.zeros(0)
        self.max_lost_ns = np.zeros(0, dtype=np.int64)
        self.fuse = np.zeros(0, dtype=bool)
        self.ids = np.zeros(0, dtype=np.int64)
        self.classes = np.zeros(0, dtype=np.int64)
        self.status = np.zeros(0, dtype=np.int8)
        self.scores = np.zeros(0)
        self.hits = np.zeros(0, dtype=np.int64)
        self.first_ns = np.zeros(0, dtype=np.int64)
        self.last_ns = np.zeros(0, dtype=np.int64)
        self.masks: List[Optional[MaskCrop]] = []

    def __len__(self) -> int:
        return self.ids.shape[0]

    def keep(self, index: np.ndarray) -> None:
        """Keep the rows at ``index`` (bool mask), dropping the others."""
        self.states = self.states.select(index)
        for name in ('ids', 'classes', 'status', 'scores', 'hits', 'first_ns', 'last_ns',
                     'last_boxes', 'acceleration', 'buffer', 'max_lost_ns', 'fuse'):
            setattr(self, name, getattr(self, name)[index])
        self.masks = [mask for mask, kept in zip(self.masks, index) if kept]

    def append(self, states: BoxStates, boxes: np.ndarray, classes: np.ndarray,
               scores: np.ndarray, stamp_ns: int, masks: List[Optional[MaskCrop]],
               per_class: Tuple[np.ndarray, ...]) -> None:
        """Add tentative tracks, one per row of ``states``.

        Args:
            states: N new Kalman states.
            boxes: (N, 4) their first measured boxes, pixels.
            classes: (N,) canonical class ids.
            scores: (N,) detection scores.
            stamp_ns: the frame's stamp.
            masks: N cropped masks or None.
            per_class: per track (N,) acceleration factor, (N,) buffer factor, (N,) int64 time
                after which it is removed when unmatched (ns) and (N,) bool whether its
                similarities are multiplied by the detection score.

        """
        count = len(states)
        self.last_boxes = np.concatenate((self.last_boxes, boxes))
        self.acceleration = np.concatenate((self.acceleration, per_class[0]))
        self.buffer = np.concatenate((self.buffer, per_class[1]))
        self.max_lost_ns = np.concatenate((self.max_lost_ns, per_class[2]))
        self.fuse = np.concatenate((self.fuse, per_class[3]))
        self.states = self.states.concat(states)
        self.ids = np.concatenate((self.ids, np.zeros(count, dtype=np.int64)))
        self.classes = np.concatenate((self.classes, classes.astype(np.int64)))
        self.status = np.concatenate(
            (self.status, np.full(count, TENTATIVE, dtype=np.int8)))
        self.scores = np.concatenate((self.scores, scores))
        self.hits = np.concatenate((self.hits, np.ones(count, dtype=np.int64)))
        self.first_ns = np.concatenate((self.first_ns, np.full(count, stamp_ns, dtype=np.int64)))
        self.last_ns = np.concatenate((self.last_ns, np.full(count, stamp_ns, dtype=np.int64)))
        self.masks.extend(masks)
