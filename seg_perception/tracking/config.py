"""Settings of the tracker: thresholds, motion noise, and per-class changes to the motion."""

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from seg_perception import taxonomy
from seg_perception.tracking.kalman import KalmanConfig


@dataclass(frozen=True)
class ClassSettings:
    """How one class is tracked differently from the defaults.

    Pedestrians change direction and speed often relative to their narrow boxes, walk in
    groups and hide behind each other; cars move smoothly but fast. Factors (rather than
    absolute values) keep one place for the defaults.

    Attributes:
        acceleration: factor on ``KalmanConfig.acceleration_std``.
        max_lost: factor on ``TrackerConfig.max_lost_s``.
        buffer: factor on ``TrackerConfig.buffer_sigmas``.
        fuse_score: overrides ``TrackerConfig.fuse_score`` for tracks of the class (None:
            keep it); in a crowd the detection score says little about which box is which.

    """

    acceleration: float = 1.0
    max_lost: float = 1.0
    buffer: float = 1.0
    fuse_score: Optional[bool] = None

    def __post_init__(self):
        for name in ('acceleration', 'max_lost', 'buffer'):
            if not getattr(self, name) > 0.0:
                raise ValueError(f'ClassSettings.{name} must be > 0, got {getattr(self, name)}')


#: Per-class settings chosen by leave-one-out over 17 KITTI tracking sequences
#: (``seg-perception evaluate tracking-select``; see the README's tracking section): for
#: pedestrians a 1.5x wider buffered-IoU margin (chosen in 15 of 17 folds) and no score fusion
#: (17 of 17).
DEFAULT_CLASS_SETTINGS: Tuple[Tuple[str, ClassSettings], ...] = (
    ('person', ClassSettings(buffer=1.5, fuse_score=False)),
)


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
        use_masks: ask the pipeline for each segment's mask (cropped to its box) and blend
            mask IoU into the similarity. Off by default: the masks compared are a frame apart
            without motion compensation, and the KITTI labels the settings were chosen on
            have no masks, so its benefit is not measured yet.
        kalman: noise levels of the motion model.
        class_settings: ``(canonical class name, ClassSettings)`` pairs; classes not named use
            the defaults.
        observation_recovery: when a lost track is matched again, restart its velocity from
            its last observation and the new one (observation-centric re-update, as OC-SORT
            does) instead of trusting the velocity predicted through the gap.
        observation_recovery_min_gap_s: only after gaps at least this long, seconds (two
            observations a short gap apart give a noisy velocity; the filter's is better).
            0.3 s won 16 of 17 leave-one-out folds over 3 noise seeds (against 0, 0.6 and
            no re-update).
        last_observation_iou: least IoU between a lost track's last observed box and a
            confident detection left after the other stages (observation-centric recovery of
            a track whose prediction drifted while unseen); 0 turns the stage off.
        camera_motion: shift the predictions of the tracks not matched in stage 1 by the
            median displacement of those matched (an image-wide shift, e.g. the camera
            turning) before the later stages match them. Off by default: leave-one-out over
            the 17 KITTI sequences chose it in 1 fold of 17 (objects at different depths and
            moving objects shift differently, so one image-wide shift misleads as often as it
            helps).

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
    use_masks: bool = False
    kalman: KalmanConfig = KalmanConfig()
    class_settings: Tuple[Tuple[str, ClassSettings], ...] = DEFAULT_CLASS_SETTINGS
    observation_recovery: bool = True
    observation_recovery_min_gap_s: float = 0.3
    last_observation_iou: float = 0.3
    camera_motion: bool = False

    def __post_init__(self):
        for name in ('high_score', 'low_score', 'new_track_score', 'match_iou_high',
                     'match_iou_low', 'match_iou_tentative', 'match_iou_buffered',
                     'mask_weight', 'last_observation_iou'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'TrackerConfig.{name} must be in [0, 1], got {value}')
        if self.low_score > self.high_score:
            raise ValueError(f'low_score {self.low_score} > high_score {self.high_score}')
        if self.confirm_hits < 1:
            raise ValueError(f'confirm_hits must be >= 1, got {self.confirm_hits}')
        for name in ('confirm_score', 'confirm_s', 'max_lost_s', 'max_tentative_lost_s',
                     'buffer_sigmas', 'observation_recovery_min_gap_s'):
            if getattr(self, name) < 0.0:
                raise ValueError(f'TrackerConfig.{name} must be >= 0, got {getattr(self, name)}')
        for entry in self.class_settings:
            if len(entry) != 2 or not isinstance(entry[1], ClassSettings):
                raise ValueError('TrackerConfig.class_settings holds (class name, ClassSettings) '
                                 f'pairs, got {entry!r}')
            try:
                taxonomy.class_id(entry[0])
            except KeyError as error:
                raise ValueError(f'TrackerConfig.class_settings: {error}') from None

    def settings_by_class_id(self) -> Dict[int, ClassSettings]:
        """Return ``class_settings`` keyed by canonical class id."""
        return {taxonomy.class_id(name): settings for name, settings in self.class_settings}
