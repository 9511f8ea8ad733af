"""Connected-component instances from a semantic map."""

import numpy as np

from seg_perception import taxonomy
from seg_perception.components import panoptic_from_semantic

CAR = taxonomy.class_id('car')
PERSON = taxonomy.class_id('person')
ROAD = taxonomy.class_id('road')


def _scene():
    semantic = np.full((40, 80), ROAD, dtype=np.uint8)
    semantic[5:15, 10:30] = CAR       # car 1: 20x10
    semantic[20:30, 50:70] = CAR      # car 2, not touching car 1
    semantic[2:6, 70:72] = PERSON     # person: 2x4 = 8 px
    semantic[35, 5] = CAR             # one-pixel speckle
    return semantic


def test_each_separate_region_of_a_thing_class_is_one_instance():
    result = panoptic_from_semantic(_scene(), image_size=(40, 80), min_area_px=4)
    classes = sorted(s.class_id for s in result.segments)
    assert classes == sorted([CAR, CAR, PERSON])
    boxes = {s.bbox for s in result.segments if s.class_id == CAR}
    assert boxes == {(10.0, 5.0, 30.0, 15.0), (50.0, 20.0, 70.0, 30.0)}
    for segment in result.segments:
        mask = result.instance_map == segment.segment_id
        assert mask.sum() == segment.area
        assert (result.semantic[mask] == segment.class_id).all()
    assert (result.instance_map[result.semantic == ROAD] == 0).all()


def test_boxes_and_areas_scale_to_the_input_image():
    result = panoptic_from_semantic(_scene(), image_size=(80, 320), min_area_px=4)
    car = next(s for s in result.segments if s.bbox[0] == 40.0)
    assert car.bbox == (40.0, 10.0, 120.0, 30.0)
    assert car.area == 20 * 10 * 8


def test_small_regions_get_no_instance_and_score_is_mean_confidence():
    confidence = np.full((40, 80), 0.5, dtype=np.float32)
    confidence[5:15, 10:30] = 0.9
    result = panoptic_from_semantic(_scene(), image_size=(40, 80), min_area_px=10,
                                    scores=confidence)
    assert len(result.segments) == 2  # the 8-px person and the speckle are dropped
    assert result.instance_map[35, 5] == 0
    scores = sorted(round(s.score, 3) for s in result.segments)
    assert scores == [0.5, 0.9]


def test_no_things_gives_no_segments():
    semantic = np.full((10, 10), ROAD, dtype=np.uint8)
    result = panoptic_from_semantic(semantic, image_size=(10, 10))
    assert result.segments == ()
    assert not result.instance_map.any()


def test_touching_classes_split_like_one_labelling_per_class():
    """Random maps where classes touch everywhere: same instances as one pass per class."""
    from seg_perception.backends.postprocess_reference import panoptic_from_semantic as per_class
    rng = np.random.default_rng(7)
    values = np.array([ROAD, CAR, PERSON, taxonomy.class_id('bicycle'), taxonomy.UNLABELED],
                      dtype=np.uint8)
    for trial in range(40):
        height, width = (int(v) for v in rng.integers(1, 70, 2))
        semantic = rng.choice(values, size=(height, width), p=[0.4, 0.3, 0.15, 0.1, 0.05])
        if trial % 2:  # blobs larger than one pixel, still touching each other
            semantic = np.kron(semantic, np.ones((2, 3), dtype=np.uint8))
        coarse_scores = rng.random(((semantic.shape[0] + 1) // 2,
                                    (semantic.shape[1] + 1) // 2)).astype(np.float32)
        scores = np.kron(coarse_scores, np.ones((2, 2), np.float32))[:semantic.shape[0],
                                                                     :semantic.shape[1]]
        image_size = (semantic.shape[0] * 3, semantic.shape[1] * 2)
        result = panoptic_from_semantic(semantic, image_size, 30.0, coarse_scores, 2)
        expected = per_class(semantic, image_size, 30.0, scores)
        # The reference numbers regions in OpenCV's order: match them through the maps.
        pairs = np.unique(np.stack([expected.instance_map.ravel(),
                                    result.instance_map.ravel()]), axis=1)
        assert len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1]  # one to one
        new_id = dict(zip(pairs[0].tolist(), pairs[1].tolist()))
        found = {s.segment_id: s for s in result.segments}
        assert len(found) == len(expected.segments)
        for segment in expected.segments:
            match = found[new_id[segment.segment_id]]
            assert (match.class_id, match.bbox, match.area) == \
                (segment.class_id, segment.bbox, segment.area)
            assert abs(match.score - segment.score) < 1e-6
        order = [(s.class_id, int(np.flatnonzero(result.instance_map == s.segment_id)[0]))
                 for s in result.segments]
        assert order == sorted(order)  # by class, then first pixel in raster order
        assert [s.segment_id for s in result.segments] == list(range(1, len(found) + 1))
        assert len(result.segments) > 0 or not np.isin(semantic, [CAR, PERSON]).any()


def test_a_class_that_touches_another_at_a_corner_stays_two_instances():
    semantic = np.full((6, 6), ROAD, dtype=np.uint8)
    semantic[0:3, 0:3] = CAR
    semantic[3:6, 3:6] = PERSON   # touches the car diagonally only
    semantic[3:6, 0:2] = CAR      # touches the first car along an edge
    result = panoptic_from_semantic(semantic, image_size=(6, 6), min_area_px=1)
    assert sorted((s.class_id, s.area) for s in result.segments) == \
        sorted([(CAR, 15.0), (PERSON, 9.0)])
    assert set(np.unique(result.instance_map)) == {0, 1, 2}


def test_more_regions_than_a_uint8_lookup_holds():
    semantic = np.full((60, 60), ROAD, dtype=np.uint8)
    semantic[::2, ::2] = CAR  # 900 single-pixel cars, none touching another
    semantic[1::4, 1::4] = PERSON  # 225 persons between them (diagonal neighbours of cars)
    result = panoptic_from_semantic(semantic, image_size=(60, 60), min_area_px=1)
    assert len(result.segments) == 900 + 225
    assert [s.class_id for s in result.segments] == sorted(s.class_id for s in result.segments)
    for segment in result.segments[::97]:
        (ys, xs) = np.nonzero(result.instance_map == segment.segment_id)
        assert ys.size == 1 and semantic[ys[0], xs[0]] == segment.class_id
        assert segment.bbox == (float(xs[0]), float(ys[0]), xs[0] + 1.0, ys[0] + 1.0)
