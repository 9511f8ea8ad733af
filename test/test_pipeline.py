"""Pipeline: full-resolution outputs, per-camera tracking, instance values (fake segmenter)."""

from typing import Sequence, Tuple

import numpy as np

from seg_perception import taxonomy
from seg_perception.backends.base import Segmenter
from seg_perception.components import panoptic_from_semantic
from seg_perception.pipeline import instance_value, MAX_INSTANCE_VALUE, Pipeline
from seg_perception.structures import Frame, PanopticResult, Segment

CAR = taxonomy.class_id('car')
ROAD = taxonomy.class_id('road')


class MovingCarSegmenter(Segmenter):
    """Working resolution 20x40: road with one car that moves 2 px right per call."""

    name = 'fake'

    def __init__(self):
        self.calls = 0

    @property
    def class_ids(self) -> Tuple[int, ...]:
        return (ROAD, CAR)

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        results = []
        for image in images:
            semantic = np.full((20, 40), ROAD, dtype=np.uint8)
            x = 4 + 2 * self.calls
            semantic[8:14, x:x + 8] = CAR
            results.append(panoptic_from_semantic(semantic, image.shape[:2], min_area_px=1))
        self.calls += 1
        return tuple(results)


class CountingTracker:
    """Gives every segment a fresh id from its own counter (records what it saw)."""

    def __init__(self):
        self.next_id = 1
        self.stamps = []
        self.last_reset_reason = None
        self.uses_masks = False

    def update(self, segments: Sequence[Segment], stamp_ns: int) -> Tuple[int, ...]:
        self.stamps.append(stamp_ns)
        ids = tuple(range(self.next_id, self.next_id + len(segments)))
        self.next_id += len(segments)
        return ids

    def reset(self) -> None:
        self.stamps.clear()


def _frame(camera: str, stamp_ns: int, size=(60, 120)) -> Frame:
    return Frame(image=np.zeros(size + (3,), np.uint8), stamp_ns=stamp_ns,
                 frame_id=camera + '_optical', camera=camera)


def test_outputs_are_at_input_resolution_with_track_ids_in_instances():
    pipeline = Pipeline(MovingCarSegmenter(), CountingTracker)
    result = pipeline.process(_frame('/cam', 100))
    assert result.semantic.shape == (60, 120) and result.semantic.dtype == np.uint8
    assert result.instances.shape == (60, 120) and result.instances.dtype == np.uint16
    assert result.frame.stamp_ns == 100 and result.frame.frame_id == '/cam_optical'
    (car,) = result.objects
    assert car.track_id == 1 and car.class_id == CAR
    assert car.bbox == (12.0, 24.0, 36.0, 42.0)  # working box (4, 8, 12, 14) scaled by 3
    assert set(np.unique(result.instances)) == {0, 1}
    assert (result.semantic[result.instances == 1] == CAR).all()
    assert (result.instances[24:42, 12:36] == 1).all()


def test_each_camera_has_its_own_tracker_and_a_batch_is_one_forward_pass():
    segmenter = MovingCarSegmenter()
    pipeline = Pipeline(segmenter, CountingTracker)
    results = pipeline.process_batch([_frame('/a', 1), _frame('/b', 2), _frame('/a', 3)])
    assert segmenter.calls == 1
    assert [r.objects[0].track_id for r in results] == [1, 1, 2]
    assert pipeline.tracker('/a').stamps == [1, 3]
    assert pipeline.tracker('/b').stamps == [2]


def test_unconfirmed_segments_are_left_out_of_instances_and_objects():
    class ConfirmNothing(CountingTracker):
        def update(self, segments, stamp_ns):
            return tuple(0 for _ in segments)

    result = Pipeline(MovingCarSegmenter(), ConfirmNothing).process(_frame('/cam', 1))
    assert result.objects == ()
    assert not result.instances.any()
    assert (result.semantic == CAR).any()


def test_instance_values_wrap_past_uint16_without_zero():
    assert instance_value(1) == 1
    assert instance_value(MAX_INSTANCE_VALUE) == MAX_INSTANCE_VALUE
    assert instance_value(MAX_INSTANCE_VALUE + 1) == 1


def test_stamp_going_backwards_resets_that_cameras_tracker_with_a_warning():
    from seg_perception.tracking import Tracker

    pipeline = Pipeline(MovingCarSegmenter(), Tracker)
    first = pipeline.process(_frame('/a', 2_000_000_000))
    other = pipeline.process(_frame('/b', 1_000_000_000))  # another camera: no reset
    looped = pipeline.process(_frame('/a', 1_000_000_000))
    assert first.warnings == () and other.warnings == ()
    assert len(looped.warnings) == 1 and 'tracker of /a reset' in looped.warnings[0]
    # A confirmed id is never given again, even after the reset.
    assert first.objects and looped.objects
    assert looped.objects[0].track_id > first.objects[0].track_id


def test_full_resolution_maps_are_written_into_the_given_allocator_arrays():
    made = []

    def allocate(shape, dtype):
        made.append(np.zeros(shape, dtype))
        return made[-1]

    result = Pipeline(MovingCarSegmenter(), CountingTracker,
                      allocate_labels=allocate).process(_frame('/cam', 1))
    assert [a.dtype for a in made] == [np.uint8, np.uint16]
    assert result.semantic is made[0] and result.instances is made[1]
    assert (result.instances[24:42, 12:36] == 1).all() and (made[0] == result.semantic).all()


def test_the_track_value_lookup_matches_numpys_with_few_and_many_segments():
    from seg_perception.components import lookup
    rng = np.random.default_rng(3)
    for segments in (1, 40, 255, 256, 700):
        values = rng.integers(0, 65536, segments + 1).astype(np.uint16)
        ids = rng.integers(0, segments + 1, (37, 53)).astype(np.int32)
        looked_up = lookup(values, ids)
        assert looked_up.dtype == np.uint16
        np.testing.assert_array_equal(looked_up, values[ids])
        # into a strided window of a larger map, as the instances are written
        target = np.full((40, 60), 7, dtype=np.uint16)
        assert lookup(values, ids, out=target[1:38, 2:55]) is not None
        np.testing.assert_array_equal(target[1:38, 2:55], values[ids])
        assert (target[0] == 7).all() and (target[:, 55:] == 7).all()
