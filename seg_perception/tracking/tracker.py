"""Multi-object tracker over per-frame segments: two-stage association as ByteTrack does.

Each update:

1. Tracks not matched for longer than ``max_lost_s`` (real time, from the stamps) are removed.
2. All tracks are predicted to the new stamp by the constant-velocity Kalman filter.
3. Stage 1: confirmed and lost tracks against confident detections (score >= ``high_score``),
   on box IoU; then the tracks and detections left on buffered IoU, boxes grown by the track's
   predicted position uncertainty, so objects that moved more than their size between frames
   (fast motion at 10 Hz, a turning camera, a track lost for a while) still match.
4. Stage 2: confirmed tracks still unmatched against low-score detections
   (``low_score`` <= score < ``high_score``): they keep a track alive through a weak frame but
   never start one.
5. Stage 3: tentative tracks against the confident detections left, on buffered IoU (their
   velocity is still unknown).
6. Unmatched confident detections with score >= ``new_track_score`` start tentative tracks.

A tentative track becomes confirmed (and only then takes an id) after ``confirm_hits`` matches
spanning at least ``confirm_s`` seconds, or at once when its first detection scores at least
``confirm_score``. Ids come from a counter owned by the tracker: never reused, not even after
``reset``. Nothing here is global; use one tracker per camera. All times come from the stamps
given to ``update`` (never the wall clock), so replaying a bag faster or slower tracks the same.
"""

from dataclasses import dataclass
import enum
from typing import List, Optional, Sequence, Tuple

import numpy as np

from seg_perception.structures import Segment
from seg_perception.tracking.association import (
    assign, buffered_iou_matrix, gate_by_class, iou_matrix, mask_iou_matrix, MaskCrop)
from seg_perception.tracking.ids import TrackIdCounter
from seg_perception.tracking.kalman import BoxKalmanFilter, BoxStates, KalmanConfig

_NS_PER_S = 1_000_000_000


def _nonzero(mask: np.ndarray) -> np.ndarray:
    return mask.nonzero()[0]


class TrackState(enum.IntEnum):
    """Life cycle of a track."""

    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2
    REMOVED = 3


# Plain ints for the per-frame array code (IntEnum attribute access is slow in a hot loop).
_TENTATIVE = int(TrackState.TENTATIVE)
_CONFIRMED = int(TrackState.CONFIRMED)
_LOST = int(TrackState.LOST)


@dataclass(frozen=True)
class TrackerConfig:
    """Thresholds of the tracker; the defaults suit 10-30 Hz driving video.

    Attributes:
        high_score: detections at or above it take part in stage 1 and may start tracks.
        low_score: detections below it are ignored; between the two they only feed stage 2.
        new_track_score: an unmatched detection starts a track only at or above it.
        match_iou_high: least similarity (IoU, times the score when ``fuse_score``) in stage 1.
        match_iou_low: least IoU in stage 2 (low-score detections).
        match_iou_tentative: least similarity between tentative tracks and detections.
        match_iou_buffered: least buffered IoU (times the score when ``fuse_score``) in the
            second pass of stage 1.
        buffer_sigmas: margin of buffered IoU, in standard deviations of the predicted box
            position; 0 turns buffered matching off (plain IoU everywhere).
        fuse_score: multiply stage-1 and tentative similarities by the detection score, so a
            confident detection wins a close contest.
        confirm_hits: matched detections (including the first) needed to confirm a track.
        confirm_score: a detection at or above it confirms its new track at once (an id in its
            first frame) unless ``confirm_s`` > 0; above 1 turns this off.
        confirm_s: least time between a track's first and confirming detection, seconds.
        max_lost_s: a track unmatched for longer than this is removed, seconds.
        max_tentative_lost_s: same for tentative tracks; 0 removes them at their first miss.
        class_aware: tracks only match detections of their own class.
        mask_weight: weight of mask IoU against box IoU when masks are given, in [0, 1].
        kalman: noise levels of the motion model.

    """

    high_score: float = 0.5
    low_score: float = 0.1
    new_track_score: float = 0.6
    match_iou_high: float = 0.2
    match_iou_low: float = 0.5
    match_iou_tentative: float = 0.3
    match_iou_buffered: float = 0.3
    buffer_sigmas: float = 2.0
    fuse_score: bool = True
    confirm_hits: int = 2
    confirm_score: float = 0.8
    confirm_s: float = 0.0
    max_lost_s: float = 1.0
    max_tentative_lost_s: float = 0.15
    class_aware: bool = True
    mask_weight: float = 0.5
    kalman: KalmanConfig = KalmanConfig()

    def __post_init__(self):
        for name in ('high_score', 'low_score', 'new_track_score', 'match_iou_high',
                     'match_iou_low', 'match_iou_tentative', 'match_iou_buffered',
                     'mask_weight'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'TrackerConfig.{name} must be in [0, 1], got {value}')
        if self.low_score > self.high_score:
            raise ValueError(f'low_score {self.low_score} > high_score {self.high_score}')
        if self.confirm_hits < 1:
            raise ValueError(f'confirm_hits must be >= 1, got {self.confirm_hits}')
        for name in ('confirm_score', 'confirm_s', 'max_lost_s', 'max_tentative_lost_s',
                     'buffer_sigmas'):
            if getattr(self, name) < 0.0:
                raise ValueError(f'TrackerConfig.{name} must be >= 0, got {getattr(self, name)}')


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


class _Table:
    """Per-track arrays of equal length (one row per live track)."""

    def __init__(self):
        self.states = BoxStates.empty()
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
        for name in ('ids', 'classes', 'status', 'scores', 'hits', 'first_ns', 'last_ns'):
            setattr(self, name, getattr(self, name)[index])
        self.masks = [mask for mask, kept in zip(self.masks, index) if kept]

    def append(self, states: BoxStates, classes: np.ndarray, scores: np.ndarray, stamp_ns: int,
               masks: List[Optional[MaskCrop]]) -> None:
        """Add tentative tracks, one per row of ``states``."""
        count = len(states)
        self.states = self.states.concat(states)
        self.ids = np.concatenate((self.ids, np.zeros(count, dtype=np.int64)))
        self.classes = np.concatenate((self.classes, classes.astype(np.int64)))
        self.status = np.concatenate(
            (self.status, np.full(count, _TENTATIVE, dtype=np.int8)))
        self.scores = np.concatenate((self.scores, scores))
        self.hits = np.concatenate((self.hits, np.ones(count, dtype=np.int64)))
        self.first_ns = np.concatenate((self.first_ns, np.full(count, stamp_ns, dtype=np.int64)))
        self.last_ns = np.concatenate((self.last_ns, np.full(count, stamp_ns, dtype=np.int64)))
        self.masks.extend(masks)


class Tracker:
    """Tracks segments of one camera across frames.

    Args:
        config: thresholds; defaults when None.
        ids: where confirmed tracks take their ids; a new counter (ids from 1) when None.
            Pass one shared counter to several trackers to keep their ids apart.

    Attributes:
        last_reset_reason: set by ``update`` when that call reset the tracker (the stamp went
            backwards, e.g. a rosbag looped), None otherwise. The caller logs it.

    """

    def __init__(self, config: Optional[TrackerConfig] = None,
                 ids: Optional[TrackIdCounter] = None):
        self.config = config if config is not None else TrackerConfig()
        self._kalman = BoxKalmanFilter(self.config.kalman)
        self._ids = ids if ids is not None else TrackIdCounter()
        self._tracks = _Table()
        self._stamp_ns: Optional[int] = None
        self._predicted = np.zeros((0, 4))
        self.last_reset_reason: Optional[str] = None

    def reset(self) -> None:
        """Forget every track; ids already given are still never given again."""
        self._tracks = _Table()
        self._stamp_ns = None

    def update(self, segments: Sequence[Segment], stamp_ns: int,
               masks: Optional[Sequence[Optional[MaskCrop]]] = None) -> Tuple[int, ...]:
        """Associate one frame's segments with the tracks.

        Args:
            segments: this frame's detections (any order; boxes in input pixels).
            stamp_ns: the frame's header stamp, nanoseconds; must not go backwards (if it does
                the tracker resets and sets ``last_reset_reason``).
            masks: optional cropped masks, one per segment (None entries allowed), all in one
                grid; when given, similarity blends box and mask IoU (``mask_weight``).

        Returns:
            per segment, the id of the confirmed track it belongs to, or 0 when none (yet).

        """
        stamp_ns = int(stamp_ns)
        if masks is not None and len(masks) != len(segments):
            raise ValueError(f'{len(masks)} masks for {len(segments)} segments')
        count = len(segments)
        flat: List[float] = []
        for segment in segments:  # one flat list is much faster to convert than tuples
            flat.extend(segment.bbox)
            flat.append(segment.score)
            flat.append(segment.class_id)
        table = np.array(flat, dtype=np.float64)
        if table.size != 6 * count or not np.isfinite(table).all():
            raise ValueError('every segment needs a finite 4-value bbox, score and class_id')
        table = table.reshape(count, 6)
        boxes, scores, classes = table[:, :4], table[:, 4], table[:, 5].astype(np.int64)
        det_masks = list(masks) if masks is not None else None

        self.last_reset_reason = None
        if self._stamp_ns is not None and stamp_ns < self._stamp_ns:
            self.last_reset_reason = (
                f'stamp went backwards by {(self._stamp_ns - stamp_ns) / _NS_PER_S:.3f} s '
                f'({self._stamp_ns} -> {stamp_ns} ns); tracker reset')
            self.reset()
        dt = 0.0 if self._stamp_ns is None else (stamp_ns - self._stamp_ns) / _NS_PER_S
        self._stamp_ns = stamp_ns

        self._drop_expired(stamp_ns)
        tracks = self._tracks
        tracks.states = self._kalman.predict(tracks.states, dt)
        self._predicted = tracks.states.boxes()

        cfg = self.config
        track_of_det = np.full(count, -1, dtype=np.int64)
        matched = np.zeros(len(tracks), dtype=bool)
        is_high = scores >= cfg.high_score
        high = _nonzero(is_high)
        low = _nonzero(~is_high & (scores >= cfg.low_score))
        status = tracks.status
        buffered = cfg.buffer_sigmas > 0.0
        args = (boxes, scores, classes, det_masks, track_of_det, matched)
        # Stage 1: confirmed and lost tracks, confident detections; plain, then buffered IoU.
        pool = _nonzero(status != _TENTATIVE)
        left_high = self._match(pool, high, cfg.match_iou_high, cfg.fuse_score, False, *args)
        if buffered and left_high.size:
            left_high = self._match(pool[~matched[pool]], left_high, cfg.match_iou_buffered,
                                    cfg.fuse_score, True, *args)
        # Stage 2: confirmed tracks still unmatched, low-score detections.
        if low.size:
            pool = _nonzero((status == _CONFIRMED) & ~matched)
            self._match(pool, low, cfg.match_iou_low, False, False, *args)
        # Stage 3: tentative tracks, confident detections left over.
        if left_high.size:
            pool = _nonzero(status == _TENTATIVE)
            left_high = self._match(pool, left_high, cfg.match_iou_tentative, cfg.fuse_score,
                                    buffered, *args)

        self._correct(track_of_det, boxes, scores, det_masks, stamp_ns)
        if not matched.all():
            track_of_det = self._age_unmatched(matched, stamp_ns, track_of_det)
        if left_high.size:
            started = self._start_tracks(left_high, boxes, scores, classes, det_masks, stamp_ns)
            track_of_det[left_high] = started

        # Index -1 (no track) picks the 0 appended to the ids.
        return tuple(np.append(tracks.ids, 0)[track_of_det].tolist())

    def active_tracks(self) -> Tuple[ActiveTrack, ...]:
        """Return the confirmed and lost tracks (those with an id), oldest id first."""
        tracks = self._tracks
        rows = _nonzero(tracks.ids > 0)
        rows = rows[np.argsort(tracks.ids[rows], kind='stable')]
        boxes = tracks.states.boxes()
        now = self._stamp_ns if self._stamp_ns is not None else 0
        return tuple(
            ActiveTrack(
                track_id=int(tracks.ids[i]), class_id=int(tracks.classes[i]),
                state=TrackState(int(tracks.status[i])), score=float(tracks.scores[i]),
                bbox=tuple(float(v) for v in boxes[i]),
                velocity=tuple(float(v) for v in tracks.states.vel[i]),
                age_s=(now - int(tracks.first_ns[i])) / _NS_PER_S,
                time_since_update_s=(now - int(tracks.last_ns[i])) / _NS_PER_S,
                hits=int(tracks.hits[i]))
            for i in rows)

    def _drop_expired(self, stamp_ns: int) -> None:
        """Remove tracks whose last match is more than ``max_lost_s`` before ``stamp_ns``."""
        tracks = self._tracks
        limit = int(self.config.max_lost_s * _NS_PER_S)
        if len(tracks) and stamp_ns - int(tracks.last_ns.min()) > limit:
            tracks.keep(stamp_ns - tracks.last_ns <= limit)

    def _match(self, pool: np.ndarray, dets: np.ndarray, min_similarity: float,
               fuse_score: bool, buffered: bool, boxes: np.ndarray, scores: np.ndarray,
               classes: np.ndarray, det_masks: Optional[List[Optional[MaskCrop]]],
               track_of_det: np.ndarray, matched: np.ndarray) -> np.ndarray:
        """Assign tracks ``pool`` to detections ``dets``; return the detections left."""
        if pool.size == 0 or dets.size == 0:
            return dets
        tracks = self._tracks
        if buffered:
            var = tracks.states.p_pp[pool]
            margins = self.config.buffer_sigmas * np.sqrt(var[:, :2] + 0.25 * var[:, 2:])
            similarity = buffered_iou_matrix(self._predicted[pool], margins, boxes[dets])
        else:
            similarity = iou_matrix(self._predicted[pool], boxes[dets])
        if det_masks is not None:
            similarity = self._blend_masks(similarity, pool, dets, det_masks)
        if self.config.class_aware:
            similarity = gate_by_class(similarity, tracks.classes[pool], classes[dets])
        if fuse_score:
            similarity = similarity * scores[dets][None, :]
        rows, cols, _, left = assign(similarity, min_similarity)
        track_of_det[dets[cols]] = pool[rows]
        matched[pool[rows]] = True
        return dets[left]

    def _blend_masks(self, similarity: np.ndarray, pool: np.ndarray, dets: np.ndarray,
                     det_masks: Optional[List[Optional[MaskCrop]]]) -> np.ndarray:
        track_masks = [self._tracks.masks[i] for i in pool]
        mask_sim = mask_iou_matrix(track_masks, [det_masks[j] for j in dets],
                                   candidates=similarity > 0.0)
        weight = self.config.mask_weight
        blended = (1.0 - weight) * similarity + weight * mask_sim
        return np.where(np.isnan(mask_sim), similarity, blended)

    def _correct(self, track_of_det: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                 det_masks: Optional[List[Optional[MaskCrop]]], stamp_ns: int) -> None:
        """Kalman-correct matched tracks and promote them; assigns ids on confirmation."""
        dets = _nonzero(track_of_det >= 0)
        if dets.size == 0:
            return
        tracks = self._tracks
        rows = track_of_det[dets]
        corrected = self._kalman.update(tracks.states.select(rows), boxes[dets])
        tracks.states.assign(rows, corrected)
        tracks.scores[rows] = scores[dets]
        tracks.hits[rows] += 1
        tracks.last_ns[rows] = stamp_ns
        if det_masks is not None:
            for row, det in zip(rows.tolist(), dets.tolist()):
                if det_masks[det] is not None:
                    tracks.masks[row] = det_masks[det]
        status = tracks.status[rows]
        promote = status != _CONFIRMED
        if promote.any():
            rows, status = rows[promote], status[promote]
            tracks.status[rows[status == _LOST]] = _CONFIRMED
            ready = ((status == _TENTATIVE) & (tracks.hits[rows] >= self.config.confirm_hits)
                     & (stamp_ns - tracks.first_ns[rows]
                        >= int(self.config.confirm_s * _NS_PER_S)))
            for row in rows[ready].tolist():
                self._confirm(row)

    def _confirm(self, row: int) -> None:
        self._tracks.status[row] = _CONFIRMED
        self._tracks.ids[row] = self._ids.take()

    def _age_unmatched(self, matched: np.ndarray, stamp_ns: int,
                       track_of_det: np.ndarray) -> np.ndarray:
        """Mark missed confirmed tracks lost and drop tentative ones missed for too long.

        Returns ``track_of_det`` re-indexed to the rows left.
        """
        tracks = self._tracks
        status = tracks.status
        missed = ~matched
        status[missed & (status == _CONFIRMED)] = _LOST
        too_long = stamp_ns - tracks.last_ns > int(self.config.max_tentative_lost_s * _NS_PER_S)
        drop = missed & too_long & (status == _TENTATIVE)
        if not drop.any():
            return track_of_det
        keep = ~drop
        new_row = np.cumsum(keep) - 1
        tracks.keep(keep)
        return np.where(track_of_det >= 0, new_row[track_of_det], -1)

    def _start_tracks(self, dets: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                      classes: np.ndarray, det_masks: Optional[List[Optional[MaskCrop]]],
                      stamp_ns: int) -> np.ndarray:
        """Start tentative tracks; return per entry of ``dets`` its new row, or -1."""
        rows = np.full(dets.size, -1, dtype=np.int64)
        starts = scores[dets] >= self.config.new_track_score
        if not starts.any():
            return rows
        first_row = len(self._tracks)
        new = dets[starts]
        new_masks = [det_masks[j] for j in new] if det_masks is not None else [None] * new.size
        self._tracks.append(self._kalman.initiate(boxes[new]), classes[new], scores[new],
                            stamp_ns, new_masks)
        rows[starts] = np.arange(first_row, first_row + new.size)
        if self.config.confirm_s <= 0.0:
            confirm = starts & ((self.config.confirm_hits <= 1)
                                | (scores[dets] >= self.config.confirm_score))
            for row in rows[confirm].tolist():
                self._confirm(row)
        return rows
