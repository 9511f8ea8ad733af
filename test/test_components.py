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
