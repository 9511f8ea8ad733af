"""Tracker mechanisms of issue 15: occlusion recovery, per-class settings, camera shift, ids."""

import numpy as np
import pytest
from test_tracker import box_at, CAR, DT_NS, PERSON, seg

from seg_perception.pipeline import Pipeline
from seg_perception.structures import Frame
from seg_perception.tracking import ClassSettings, Tracker, TrackerConfig, TrackIdCounter

pytestmark = pytest.mark.timeout(60)


def test_observation_centric_re_update_restarts_velocity_from_observations():
    # Moves right at 100 px/s, unseen for 0.4 s, seen again 60 px further (150 px/s).
    def track(recovery, min_gap_s=0.0):
        tracker = Tracker(TrackerConfig(observation_recovery=recovery, camera_motion=False,
                                        observation_recovery_min_gap_s=min_gap_s))
        for k in range(6):
            tracker.update([seg(box_at(100 + 10 * k, 50))], k * DT_NS)
        for k in range(6, 9):
            tracker.update([], k * DT_NS)
        ids = tracker.update([seg(box_at(150 + 60, 50))], 9 * DT_NS)
        return ids, tracker.active_tracks()[0].velocity[0]

    ids, velocity = track(True)
    assert ids == (1,)
    # Last seen at x 150 (frame 5), now at 210 (frame 9): 60 px in 0.4 s.
    assert velocity == pytest.approx(150.0, rel=1e-6)
    ids_off, velocity_off = track(False)
    assert ids_off == (1,)
    # Corrected from the velocity predicted through the gap, the filter overshoots.
    assert abs(velocity_off - 150.0) > 2.0
    # A gap shorter than the least gap for the re-update leaves the filter's estimate.
    ids_short, velocity_short = track(True, min_gap_s=0.6)
    assert ids_short == (1,) and velocity_short == pytest.approx(velocity_off)


def test_lost_track_is_recovered_on_its_last_observed_box():
    # A car drives right at 150 px/s, stops behind an occluder, and reappears where it was
    # last seen: its prediction ran about 90 px ahead, more than its 40 px width.
    def ids_after_gap(last_observation_iou):
        tracker = Tracker(TrackerConfig(buffer_sigmas=0.0, camera_motion=False,
                                        last_observation_iou=last_observation_iou))
        for k in range(8):
            tracker.update([seg(box_at(15.0 * k, 50))], k * DT_NS)
        for k in range(8, 13):
            tracker.update([], k * DT_NS)
        return tracker.update([seg(box_at(15.0 * 7 + 2, 50))], 13 * DT_NS)

    assert ids_after_gap(0.3) == (1,)
    assert ids_after_gap(0.0) != (1,)


def test_per_class_lost_time():
    # Pedestrians kept twice as long as cars when unseen.
    config = TrackerConfig(max_lost_s=1.0,
                           class_settings=(('person', ClassSettings(max_lost=2.0)),))
    frames = [[seg(box_at(100, 50), CAR, segment_id=1),
               seg(box_at(300, 50, 20, 50), PERSON, segment_id=2)]] * 3
    tracker = Tracker(config)
    for k, segments in enumerate(frames):
        ids = tracker.update(segments, k * DT_NS)
    assert ids == (1, 2)
    # Unseen for 1.5 s: the car is gone, the pedestrian is not.
    after = tracker.update(frames[0], (2 * DT_NS) + 1_500_000_000)
    assert after[1] == 2
    assert after[0] not in (1, 2)


def test_per_class_score_fusion():
    # One pedestrian track; next frame a weak detection exactly on it and a confident one
    # 5 px aside (IoU 0.6). Fused with the score the confident one wins (0.6 > 0.55); on IoU
    # alone the exact one wins, and the confident one starts a track of its own.
    def ids(fuse):
        config = TrackerConfig(
            confirm_score=0.5, camera_motion=False,
            class_settings=(('person', ClassSettings(fuse_score=fuse)),))
        tracker = Tracker(config)
        assert tracker.update([seg(box_at(100, 50, 20, 50), PERSON, 0.9)], 0) == (1,)
        return tracker.update([seg(box_at(100, 50, 20, 50), PERSON, 0.55, 1),
                               seg(box_at(105, 50, 20, 50), PERSON, 1.0, 2)], DT_NS)

    assert ids(False) == (1, 2)
    assert ids(True) == (0, 1)
    assert ids(None) == (0, 1)  # the default, fuse_score=True, applies


def test_camera_shift_moves_unmatched_predictions():
    # Five cars stand still for a second; then the camera turns and all move 20 px left. The
    # small far car's box (8 px) no longer overlaps its prediction; the others tell the shift.
    def run(camera_motion):
        tracker = Tracker(TrackerConfig(camera_motion=camera_motion, buffer_sigmas=2.0,
                                        last_observation_iou=0.0))
        boxes = [box_at(100 + 120 * i, 60) for i in range(4)] + [box_at(700, 80, 8, 6)]
        for k in range(10):
            ids = tracker.update([seg(b, segment_id=i + 1) for i, b in enumerate(boxes)],
                                 k * DT_NS)
        shifted = [(b[0] - 20, b[1], b[2] - 20, b[3]) for b in boxes]
        return ids, tracker.update([seg(b, segment_id=i + 1) for i, b in enumerate(shifted)],
                                   10 * DT_NS)

    before, after = run(True)
    assert after == before
    before_off, after_off = run(False)
    assert after_off[:4] == before_off[:4] and after_off[4] != before_off[4]


def test_shared_id_counter_keeps_ids_unique_across_trackers_and_resets():
    counter = TrackIdCounter()
    left, right = Tracker(ids=counter), Tracker(ids=counter)
    seen = []
    for k in range(3):
        seen.extend(left.update([seg(box_at(10, 10))], k * DT_NS))
        seen.extend(right.update([seg(box_at(10, 10))], k * DT_NS))
    left.reset()
    seen.extend(left.update([seg(box_at(10, 10))], 3 * DT_NS))
    assert sorted(set(seen)) == [1, 2, 3]
    assert seen[-1] == 3  # the reset tracker takes the next id, never an old one
    assert counter.next_id == 4


def test_class_settings_validation():
    with pytest.raises(ValueError):
        TrackerConfig(class_settings=(('no such class', ClassSettings()),))
    with pytest.raises(ValueError):
        ClassSettings(acceleration=0.0)
    with pytest.raises(ValueError):
        TrackerConfig(last_observation_iou=1.5)


class _RecordingTracker:
    """A tracker that records what the pipeline gave it."""

    def __init__(self, uses_masks):
        self.uses_masks = uses_masks
        self.last_reset_reason = None
        self.masks = 'not given'

    def update(self, segments, stamp_ns, **kwargs):
        self.masks = kwargs.get('masks', 'not given')
        return tuple(range(1, len(segments) + 1))

    def reset(self):
        pass


@pytest.mark.parametrize('uses_masks', [True, False])
def test_pipeline_passes_cropped_masks_only_to_trackers_that_use_them(uses_masks):
    from fake_segmenters import BoxSegmenter
    tracker = _RecordingTracker(uses_masks)
    pipeline = Pipeline(BoxSegmenter(), lambda: tracker)
    image = np.zeros((40, 80, 3), dtype=np.uint8)
    result = pipeline.process(Frame(image=image, stamp_ns=0, camera='cam'))
    assert len(result.objects) == 1
    if not uses_masks:
        assert tracker.masks == 'not given'
        return
    (crop,) = tracker.masks
    # The fake car fills rows 10..19 and columns 20..39: the crop is that box, all set.
    assert (crop.x0, crop.y0) == (20, 10)
    assert crop.mask.shape == (10, 20) and crop.mask.all()


def test_tracker_uses_masks_only_when_configured():
    assert not Tracker().uses_masks
    assert Tracker(TrackerConfig(use_masks=True)).uses_masks
    assert not Tracker(TrackerConfig(use_masks=True, mask_weight=0.0)).uses_masks
