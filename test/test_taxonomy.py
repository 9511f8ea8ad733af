"""Canonical taxonomy: required classes, unique ids, source-dataset tables."""

import re

import numpy as np
import pytest

from seg_perception import label_sets, taxonomy

REQUIRED = ('road', 'sidewalk', 'lane_marking', 'car', 'truck', 'bus', 'motorcycle', 'bicycle',
            'person', 'rider', 'traffic_sign', 'traffic_light')


def test_contract_classes_exist_with_unique_ids_and_snake_case_names():
    for name in REQUIRED:
        assert name in taxonomy.CLASS_BY_NAME
    ids = [c.class_id for c in taxonomy.CLASSES]
    assert len(set(ids)) == len(ids)
    assert all(0 <= i < taxonomy.UNLABELED for i in ids)
    assert all(re.fullmatch(r'[a-z]+(_[a-z]+)*', c.name) for c in taxonomy.CLASSES)


def test_vehicles_and_people_are_things_and_road_is_stuff():
    for name in ('car', 'truck', 'bus', 'person', 'rider', 'bicycle', 'motorcycle'):
        assert taxonomy.CLASS_BY_NAME[name].is_thing
    for name in ('road', 'sidewalk', 'lane_marking', 'sky'):
        assert not taxonomy.CLASS_BY_NAME[name].is_thing


def test_cityscapes_train_ids_map_class_by_class():
    table = label_sets.cityscapes_train_id_table()
    expected = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic_light',
                'traffic_sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
                'truck', 'bus', 'train', 'motorcycle', 'bicycle']
    for train_id, name in enumerate(expected):
        assert taxonomy.CLASS_BY_ID[int(table[train_id])].name == name
    assert table[19] == taxonomy.UNLABELED
    assert table[255] == taxonomy.UNLABELED


def test_cityscapes_label_ids_map_to_same_classes_as_train_ids():
    label_table = label_sets.cityscapes_label_id_table()
    train_table = label_sets.cityscapes_train_id_table()
    label_ids = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    assert list(label_table[label_ids]) == list(train_table[:19])
    assert label_table[0] == label_table[6] == label_table[9] == taxonomy.UNLABELED


def test_unknown_class_name_lists_valid_names():
    with pytest.raises(KeyError, match='canonical classes are: road, sidewalk'):
        taxonomy.class_id('automobile')


def test_palette_colours_every_class_and_keeps_unlabeled_black():
    table = taxonomy.palette()
    assert table.shape == (256, 3) and table.dtype == np.uint8
    assert tuple(table[taxonomy.class_id('car')]) == (0, 0, 142)
    assert tuple(table[taxonomy.UNLABELED]) == (0, 0, 0)
