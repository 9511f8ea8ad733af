"""Tracker behaviour on scripted scenes: crossing, occlusion, long gaps, classes, stamps."""

import dataclasses

import numpy as np
import pytest

from seg_perception import taxonomy
from seg_perception.structures import Segment
from seg_perception.tracking import (
    crops_from_instance_map, Tracker, TrackerConfig, TrackState)
from seg_perception.tracking.association import (
    assign, buffered_iou_matrix, iou_matrix, mask_iou, MaskCrop)
from seg_perception.tracking.kalman import BoxKalmanFilter, KalmanConfig

CAR = taxonomy.class_id('car')
PERSON = taxonomy.class_id('person')
DT_NS = 100_000_000  # 10 Hz


def seg(box, class_id=CAR, score=0.9, segment_id=1):
    x0, y0, x1, y1 = (float(v) for v in box)
    return Segment(segment_id=segment_id, class_id=class_id, score=score, bbox=(x0, y0, x1, y1),
                   area=(x1 - x0) * (y1 - y0))


def box_at(x, y, w=40.0, h=30.0):
    return (x, y, x + w, y + h)


def run(tracker, frames, start_ns=0):
    """Feed lists of segments at 10 Hz; return the ids of every frame."""
    return [tracker.update(segments, start_ns + k * DT_NS) for k, segments in enumerate(frames)]


def test_first_frame_waits_for_confirmation_then_ids_start_at_one():
    tracker = Tracker(TrackerConfig(confirm_score=1.1))
    ids = run(tracker, [[seg(box_at(10 + 5 * k, 10), score=0.9)] for k in range(3)])
    assert ids == [(0,), (1,), (1,)]
    assert [t.track_id for t in tracker.active_tracks()] == [1]


def test_confident_detection_confirms_at_once():
    tracker = Tracker(TrackerConfig(confirm_score=0.8))
    assert tracker.update([seg(box_at(0, 0), score=0.85)], 0) == (1,)
    assert tracker.update([seg(box_at(300, 0), score=0.7)], DT_NS) == (0,)


def test_crossing_objects_keep_their_ids():
    # Two cars of one class cross each other head-on, 8 px apart vertically, at 150 px/s.
    frames = []
    for k in range(30):
        a = seg(box_at(50 + 15 * k, 100), segment_id=1)
        b = seg(box_at(485 - 15 * k, 108), segment_id=2)
        frames.append([a, b] if k % 2 else [b, a])  # input order must not matter
    ids = run(Tracker(), frames)
    first = {1: None, 2: None}
    for k, (frame, frame_ids) in enumerate(zip(frames, ids)):
        for segment, track_id in zip(frame, frame_ids):
            assert track_id > 0, f'frame {k}'
            if first[segment.segment_id] is None:
                first[segment.segment_id] = track_id
            assert track_id == first[segment.segment_id], f'id switch at frame {k}'
    assert first[1] != first[2]


def test_occluded_object_keeps_its_id():
    tracker = Tracker()
    ids = []
    for k in range(20):
        occluded = 8 <= k < 12  # 0.4 s unseen, well under max_lost_s
        ids.append(tracker.update([] if occluded else [seg(box_at(20 + 12 * k, 50))],
                                  k * DT_NS))
        if occluded:
            (track,) = tracker.active_tracks()
            assert track.state == TrackState.LOST
    seen = [frame[0] for frame in ids if frame]
    assert set(seen) == {1}
    assert tracker.active_tracks()[0].state == TrackState.CONFIRMED


def test_occluded_object_moving_fast_keeps_its_id():
    # 40 px per frame with a 40 px wide box: consecutive boxes do not overlap at all.
    tracker = Tracker()
    ids = []
    for k in range(16):
        segments = [] if k in (6, 7, 8) else [seg(box_at(10 + 40 * k, 50))]
        ids.extend(tracker.update(segments, k * DT_NS))
    assert set(ids) == {1}


def test_reappearing_after_long_gap_gets_new_id():
    config = TrackerConfig(max_lost_s=1.0)
    tracker = Tracker(config)
    before = run(tracker, [[seg(box_at(100, 100))] for _ in range(5)])
    assert before[-1] == (1,)
    # Same place, but 1.5 s later: the track has aged out by the real time elapsed, even though
    # only one update was missed.
    after = tracker.update([seg(box_at(100, 100))], 4 * DT_NS + 1_500_000_000)
    assert after != (1,)
    assert tracker.update([seg(box_at(100, 100))], 5 * DT_NS + 1_500_000_000) == (2,)


def test_gap_within_max_lost_keeps_id():
    tracker = Tracker(TrackerConfig(max_lost_s=1.0))
    run(tracker, [[seg(box_at(100, 100))] for _ in range(5)])
    assert tracker.update([seg(box_at(100, 100))], 4 * DT_NS + 900_000_000) == (1,)


def test_class_aware_matching():
    frames = [[seg(box_at(100, 100), CAR)] for _ in range(4)]
    frames.append([seg(box_at(100, 100), PERSON, score=0.7)])
    aware = run(Tracker(TrackerConfig(class_aware=True, confirm_score=1.1)), frames)
    assert aware[-2] == (1,)
    assert aware[-1] == (0,)  # a new, tentative person track, not the car's id
    blind = run(Tracker(TrackerConfig(class_aware=False, confirm_score=1.1)), frames)
    assert blind[-1] == (1,)


def test_class_aware_picks_the_same_class_among_overlapping_boxes():
    tracker = Tracker()
    car, person = box_at(100, 100), box_at(104, 100)
    for k in range(4):
        ids = tracker.update([seg(car, CAR, segment_id=1), seg(person, PERSON, segment_id=2)],
                             k * DT_NS)
    car_id, person_id = ids
    # Swap the boxes: IoU alone would keep the ids on the positions, classes keep them on kind.
    ids = tracker.update([seg(person, CAR, segment_id=1), seg(car, PERSON, segment_id=2)],
                         4 * DT_NS)
    assert ids == (car_id, person_id)


def test_ids_are_never_reused():
    tracker = Tracker(TrackerConfig(max_lost_s=0.2))
    seen = {}
    stamp = 0
    for obj in range(6):
        # Each object lives 0.5 s at its own place, then vanishes; the next one starts there.
        for _ in range(5):
            (track_id,) = tracker.update([seg(box_at(200, 100))], stamp)
            stamp += DT_NS
            if track_id:
                assert seen.setdefault(track_id, obj) == obj
        stamp += 1_000_000_000
    assert sorted(seen) == list(range(1, 7))
    tracker.reset()
    (track_id,) = tracker.update([seg(box_at(200, 100), score=0.95)], stamp)
    assert track_id == 7


def test_stamp_going_backwards_resets():
    tracker = Tracker()
    run(tracker, [[seg(box_at(100, 100))] for _ in range(5)])
    assert tracker.last_reset_reason is None
    assert [t.track_id for t in tracker.active_tracks()] == [1]
    # A rosbag looped: back to stamp 0.
    ids = tracker.update([seg(box_at(100, 100), score=0.7)], 0)
    assert tracker.last_reset_reason is not None and 'backwards' in tracker.last_reset_reason
    assert ids == (0,)
    assert tracker.active_tracks() == ()
    assert tracker.update([seg(box_at(100, 100), score=0.7)], DT_NS) == (2,)
    assert tracker.last_reset_reason is None


def test_same_stamp_twice_is_not_a_reset():
    tracker = Tracker()
    tracker.update([seg(box_at(0, 0))], DT_NS)
    tracker.update([seg(box_at(0, 0))], DT_NS)
    assert tracker.last_reset_reason is None


def test_low_score_detections_continue_but_never_start_tracks():
    config = TrackerConfig(high_score=0.5, low_score=0.1, new_track_score=0.6)
    tracker = Tracker(config)
    ids = run(tracker, [[seg(box_at(10 + 5 * k, 10), score=0.9 if k < 4 else 0.3)]
                        for k in range(8)])
    assert [i for (i,) in ids[1:]] == [1] * 7
    # A lone low-score object never gets a track.
    lone = Tracker(config)
    assert all(i == (0,) for i in run(lone, [[seg(box_at(300, 10), score=0.3)]] * 6))
    assert lone.active_tracks() == ()


def test_low_score_second_stage_prefers_confident_detections():
    tracker = Tracker()
    for k in range(4):
        tracker.update([seg(box_at(100 + 4 * k, 100))], k * DT_NS)
    # A confident detection far away and a weak one on the track: the weak one continues it.
    ids = tracker.update([seg(box_at(600, 300), score=0.95, segment_id=1),
                          seg(box_at(116, 100), score=0.2, segment_id=2)], 4 * DT_NS)
    assert ids[1] == 1
    assert ids[0] not in (0, 1)


def test_below_low_score_is_ignored():
    tracker = Tracker()
    run(tracker, [[seg(box_at(100, 100))] for _ in range(3)])
    assert tracker.update([seg(box_at(100, 100), score=0.05)], 3 * DT_NS) == (0,)


def test_tentative_track_dies_when_missed_too_long():
    tracker = Tracker(TrackerConfig(confirm_score=1.1, max_tentative_lost_s=0.15))
    assert tracker.update([seg(box_at(0, 0))], 0) == (0,)
    tracker.update([], DT_NS)  # one miss is tolerated
    assert tracker.update([seg(box_at(0, 0))], 2 * DT_NS) == (1,)
    tracker = Tracker(TrackerConfig(confirm_score=1.1, max_tentative_lost_s=0.0))
    tracker.update([seg(box_at(0, 0))], 0)
    tracker.update([], DT_NS)
    assert tracker.update([seg(box_at(0, 0))], 2 * DT_NS) == (0,)


def test_confirm_seconds():
    tracker = Tracker(TrackerConfig(confirm_score=1.1, confirm_hits=2, confirm_s=0.25))
    ids = run(tracker, [[seg(box_at(0, 0))] for _ in range(4)])
    assert ids == [(0,), (0,), (0,), (1,)]


def test_active_tracks_report_velocity_in_pixels_per_second():
    tracker = Tracker()
    for k in range(15):
        tracker.update([seg(box_at(10 + 10 * k, 20))], k * DT_NS)  # 100 px/s to the right
    (track,) = tracker.active_tracks()
    assert track.class_id == CAR and track.state == TrackState.CONFIRMED
    assert track.velocity[0] == pytest.approx(100.0, abs=5.0)
    assert track.velocity[1] == pytest.approx(0.0, abs=2.0)
    assert track.bbox == pytest.approx(box_at(150, 20), abs=2.0)
    assert track.age_s == pytest.approx(1.4)
    assert track.time_since_update_s == 0.0
    assert track.hits == 15


def test_empty_frames_and_empty_tracker():
    tracker = Tracker()
    assert tracker.update([], 0) == ()
    assert tracker.update([seg(box_at(0, 0), score=0.3)], DT_NS) == (0,)
    assert tracker.active_tracks() == ()


def test_many_objects_get_distinct_ids():
    rng = np.random.default_rng(0)
    corners = rng.uniform((0, 0), (1200, 340), size=(50, 2))
    tracker = Tracker()
    for k in range(5):
        ids = tracker.update([seg(box_at(x + 3 * k, y, 20, 20), segment_id=i + 1)
                              for i, (x, y) in enumerate(corners)], k * DT_NS)
    assert all(ids)
    assert len(set(ids)) == 50


def test_config_validation():
    with pytest.raises(ValueError):
        TrackerConfig(high_score=1.5)
    with pytest.raises(ValueError):
        TrackerConfig(low_score=0.6, high_score=0.5)
    with pytest.raises(ValueError):
        TrackerConfig(confirm_hits=0)
    with pytest.raises(ValueError):
        TrackerConfig(max_lost_s=-1.0)
    with pytest.raises(ValueError):
        KalmanConfig(measurement_std=0.0)
    config = TrackerConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_lost_s = 3.0


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError):
        Tracker().update([seg(box_at(0, 0))], 0, masks=[])
    with pytest.raises(ValueError):
        Tracker().update([seg((0.0, 0.0, float('nan'), 10.0))], 0)


def test_mask_iou_hook_separates_overlapping_boxes():
    # Two objects with the same box but complementary masks (an L and its complement).
    instance_map = np.zeros((60, 60), dtype=np.int32)
    instance_map[10:50, 10:50] = 1
    instance_map[10:30, 30:50] = 2
    crops = crops_from_instance_map(instance_map, [1, 2, 3])
    assert crops[2] is None
    assert crops[0].area == 1200 and crops[1].area == 400
    assert mask_iou(crops[0], crops[1]) == 0.0
    assert mask_iou(crops[0], crops[0]) == 1.0
    box = (10.0, 10.0, 50.0, 50.0)
    tracker = Tracker(TrackerConfig(mask_weight=1.0))
    segments = [seg(box, segment_id=1), seg(box, segment_id=2)]
    for k in range(3):
        ids = tracker.update(segments, k * DT_NS, masks=crops[:2])
    assert ids[0] != ids[1] and all(ids)
    # The same masks listed in the other order follow their masks, not the list position.
    swapped = tracker.update(segments[::-1], 3 * DT_NS, masks=crops[1::-1])
    assert swapped == ids[::-1]


def test_iou_matrix_and_buffered_iou():
    a = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [100.0, 100.0, 100.0, 100.0]])
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 2)
    assert iou[0, 0] == pytest.approx(50.0 / 150.0)
    assert iou[1, 0] == 0.0 and iou[0, 1] == 0.0
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 2)
    # Disjoint boxes 10 px apart overlap once both grow by 5 px.
    grown = buffered_iou_matrix(a[1:], np.array([[5.0, 0.0]]), a[:1])
    assert grown[0, 0] == pytest.approx(0.0)
    grown = buffered_iou_matrix(a[1:], np.array([[6.0, 0.0]]), a[:1])
    assert grown[0, 0] == pytest.approx(2.0 * 10.0 / (2 * 22.0 * 10.0 - 20.0))


def test_assign_respects_threshold_and_maximizes_matches():
    similarity = np.array([[0.9, 0.8], [0.85, 0.0], [0.0, 0.1]])
    rows, cols, left_rows, left_cols = assign(similarity, 0.3)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]
    assert left_rows.tolist() == [2] and left_cols.tolist() == []
    rows, cols, left_rows, left_cols = assign(np.zeros((0, 3)), 0.3)
    assert rows.size == 0 and left_cols.tolist() == [0, 1, 2]


def test_kalman_process_noise_grows_with_elapsed_time():
    kalman = BoxKalmanFilter()
    states = kalman.initiate(np.array([[0.0, 0.0, 40.0, 30.0]]))
    short = kalman.predict(states, 0.1)
    long = kalman.predict(states, 2.0)
    assert (long.p_pp > short.p_pp).all()
    with pytest.raises(ValueError):
        kalman.predict(states, -0.1)
    assert MaskCrop(0, 0, np.ones((2, 2), dtype=bool)).area == 4
