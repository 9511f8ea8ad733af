"""Multi-object tracker over per-frame segments: two-stage association as ByteTrack does.

Each update:

1. Tracks not matched for longer than their class's lost time (``max_lost_s`` times the
   class's factor; real time, from the stamps) are removed.
2. All tracks are predicted to the new stamp by the constant-velocity Kalman filter (process
   noise per class: pedestrians may turn and stop more than cars).
3. Stage 1: confirmed and lost tracks against confident detections (score >= ``high_score``),
   on box IoU. With ``camera_motion`` the tracks left are then shifted by the median
   displacement of those matched (an image-wide shift, e.g. the camera turning). Then the tracks
   and detections left are matched on buffered IoU, boxes grown by the track's predicted
   position uncertainty (times its class's factor), so objects that moved more than their size
   between frames (fast motion at 10 Hz, a turning camera, a track lost for a while) still
   match.
4. Stage 2: confirmed tracks still unmatched against low-score detections
   (``low_score`` <= score < ``high_score``): they keep a track alive through a weak frame but
   never start one.
5. Lost tracks against the confident detections left, on the IoU of their last observed box
   (``last_observation_iou``): recovers a track whose prediction drifted while it was unseen.
6. Stage 3: tentative tracks against the confident detections left, on buffered IoU (their
   velocity is still unknown).
7. Matched tracks are corrected; a track matched after a miss restarts its velocity from its
   last and new observation (``observation_recovery``; OC-SORT's observation-centric
   re-update) rather than from a velocity predicted blind through the gap.
8. Unmatched confident detections with score >= ``new_track_score`` start tentative tracks.

Similarities are multiplied by the detection score (``fuse_score``, per class), class-gated
(``class_aware``) and blended with mask IoU when masks are given (``mask_weight``).

A tentative track becomes confirmed (and only then takes an id) after ``confirm_hits`` matches
spanning at least ``confirm_s`` seconds, or at once when its first detection scores at least
``confirm_score``. Ids come from a ``TrackIdCounter`` (by default one owned by the tracker):
never reused, not even after ``reset``. Nothing here is global; use one tracker per camera (and
one shared counter for ids unique across cameras). All times come from the stamps given to
``update`` (never the wall clock), so replaying a bag faster or slower tracks the same.
"""

from typing import List, Optional, Sequence, Tuple

import numpy as np

from seg_perception.structures import Segment
from seg_perception.tracking.association import (
    assign, buffered_iou_matrix, gate_by_class, iou_matrix, mask_iou_matrix, MaskCrop)
from seg_perception.tracking.config import ClassSettings, TrackerConfig
from seg_perception.tracking.ids import TrackIdCounter
from seg_perception.tracking.kalman import BoxKalmanFilter, KalmanConfig
from seg_perception.tracking.track_table import ActiveTrack, TrackState, TrackTable

__all__ = ['ActiveTrack', 'ClassSettings', 'KalmanConfig', 'Tracker', 'TrackerConfig',
           'TrackState']

_NS_PER_S = 1_000_000_000


def _nonzero(mask: np.ndarray) -> np.ndarray:
    return mask.nonzero()[0]


# Plain ints for the per-frame array code (IntEnum attribute access is slow in a hot loop).
_TENTATIVE = int(TrackState.TENTATIVE)
_CONFIRMED = int(TrackState.CONFIRMED)
_LOST = int(TrackState.LOST)
#: Least number of matched tracks from which the image-wide shift is estimated.
_MIN_CAMERA_MATCHES = 4


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
        self._class_settings = self.config.settings_by_class_id()
        self._tracks = TrackTable()
        self._stamp_ns: Optional[int] = None
        self._predicted = np.zeros((0, 4))
        self.last_reset_reason: Optional[str] = None

    @property
    def uses_masks(self) -> bool:
        """Whether the pipeline should pass masks to ``update`` (``use_masks``, weight > 0)."""
        return self.config.use_masks and self.config.mask_weight > 0.0

    def reset(self) -> None:
        """Forget every track; ids already given are still never given again."""
        self._tracks = TrackTable()
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
        tracks.states = self._kalman.predict(tracks.states, dt, tracks.acceleration)
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
        if cfg.camera_motion and not matched.all():
            self._follow_camera(track_of_det, boxes, matched)
        if buffered and left_high.size:
            left_high = self._match(pool[~matched[pool]], left_high, cfg.match_iou_buffered,
                                    cfg.fuse_score, True, *args)
        # Stage 2: confirmed tracks still unmatched, low-score detections.
        if low.size:
            pool = _nonzero((status == _CONFIRMED) & ~matched)
            self._match(pool, low, cfg.match_iou_low, False, False, *args)
        # Lost tracks against the confident detections left, on their last observed box.
        if cfg.last_observation_iou > 0.0 and left_high.size:
            pool = _nonzero((status == _LOST) & ~matched)
            left_high = self._match(pool, left_high, cfg.last_observation_iou, False, False,
                                    *args, track_boxes=tracks.last_boxes)
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
        """Remove tracks unmatched for longer than their class's lost time at ``stamp_ns``."""
        tracks = self._tracks
        if len(tracks):
            expired = stamp_ns - tracks.last_ns > tracks.max_lost_ns
            if expired.any():
                tracks.keep(~expired)

    def _match(self, pool: np.ndarray, dets: np.ndarray, min_similarity: float,
               fuse_score: bool, buffered: bool, boxes: np.ndarray, scores: np.ndarray,
               classes: np.ndarray, det_masks: Optional[List[Optional[MaskCrop]]],
               track_of_det: np.ndarray, matched: np.ndarray,
               track_boxes: Optional[np.ndarray] = None) -> np.ndarray:
        """Assign tracks ``pool`` to detections ``dets``; return the detections left.

        Tracks are compared by their predicted boxes, or by ``track_boxes`` (all rows) if given.
        """
        if pool.size == 0 or dets.size == 0:
            return dets
        tracks = self._tracks
        track_boxes = self._predicted if track_boxes is None else track_boxes
        if buffered:
            var = tracks.states.p_pp[pool]
            sigmas = self.config.buffer_sigmas * tracks.buffer[pool]
            margins = sigmas[:, None] * np.sqrt(var[:, :2] + 0.25 * var[:, 2:])
            similarity = buffered_iou_matrix(track_boxes[pool], margins, boxes[dets])
        else:
            similarity = iou_matrix(track_boxes[pool], boxes[dets])
        if det_masks is not None:
            similarity = self._blend_masks(similarity, pool, dets, det_masks)
        if self.config.class_aware:
            similarity = gate_by_class(similarity, tracks.classes[pool], classes[dets])
        if fuse_score:
            fuse = tracks.fuse[pool]
            fused = similarity * scores[dets][None, :]
            similarity = fused if fuse.all() else np.where(fuse[:, None], fused, similarity)
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
        if self.config.observation_recovery:
            # Tracks matched after a miss restart from their last and new observations.
            min_gap_ns = int(self.config.observation_recovery_min_gap_s * _NS_PER_S)
            back = (tracks.status[rows] == _LOST) & (stamp_ns - tracks.last_ns[rows] >= min_gap_ns)
            if back.any():
                gap_s = (stamp_ns - tracks.last_ns[rows[back]]) / _NS_PER_S
                restarted = self._kalman.restart(boxes[dets[back]],
                                                 tracks.last_boxes[rows[back]], gap_s)
                corrected.data[:, back] = restarted.data
        tracks.states.assign(rows, corrected)
        tracks.last_boxes[rows] = boxes[dets]
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

    def _follow_camera(self, track_of_det: np.ndarray, boxes: np.ndarray,
                       matched: np.ndarray) -> None:
        """Shift unmatched tracks by the median displacement of the matched ones.

        An image-wide shift (the camera turning or pitching) moves every object alike; the
        tracks matched so far measure it, the others follow it before the later stages.
        Needs at least ``_MIN_CAMERA_MATCHES`` matches.
        """
        dets = _nonzero(track_of_det >= 0)
        if dets.size < _MIN_CAMERA_MATCHES:
            return
        rows = track_of_det[dets]
        predicted = self._predicted[rows]
        shift = np.median(0.5 * ((boxes[dets, :2] + boxes[dets, 2:])
                                 - (predicted[:, :2] + predicted[:, 2:])), axis=0)
        self._predicted[~matched] += np.tile(shift, 2)

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
        self._tracks.append(self._kalman.initiate(boxes[new]), boxes[new], classes[new],
                            scores[new], stamp_ns, new_masks, self._class_arrays(classes[new]))
        rows[starts] = np.arange(first_row, first_row + new.size)
        if self.config.confirm_s <= 0.0:
            confirm = starts & ((self.config.confirm_hits <= 1)
                                | (scores[dets] >= self.config.confirm_score))
            for row in rows[confirm].tolist():
                self._confirm(row)
        return rows

    def _class_arrays(self, classes: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Return per class id of ``classes`` its settings as arrays.

        Returns:
            (N,) float64 acceleration and buffer factors, (N,) int64 lost time (ns) and (N,)
            bool whether similarities are multiplied by the detection score.

        """
        default = ClassSettings()
        found = [self._class_settings.get(int(c), default) for c in classes.tolist()]
        acceleration = np.array([m.acceleration for m in found], dtype=np.float64)
        buffer = np.array([m.buffer for m in found], dtype=np.float64)
        lost_ns = np.array([int(m.max_lost * self.config.max_lost_s * _NS_PER_S)
                            for m in found], dtype=np.int64)
        fuse = np.array([self.config.fuse_score if m.fuse_score is None else m.fuse_score
                         for m in found], dtype=bool)
        return acceleration, buffer, lost_ns, fuse
