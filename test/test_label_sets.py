"""Mapillary Vistas, COCO-panoptic, VOC and Cityscapes names -> canonical, class by class."""

import numpy as np
import pytest

from seg_perception import label_sets, taxonomy

# Expected canonical class -> the dataset names that map to it; every other name maps to None.
VISTAS_EXPECTED = {
    'road': ['construction--flat--bike-lane', 'construction--flat--driveway',
             'construction--flat--parking', 'construction--flat--parking-aisle',
             'construction--flat--road', 'construction--flat--road-shoulder',
             'construction--flat--service-lane', 'object--catch-basin', 'object--manhole',
             'object--pothole'],
    'sidewalk': ['construction--barrier--curb', 'construction--barrier--road-median',
                 'construction--flat--curb-cut', 'construction--flat--pedestrian-area',
                 'construction--flat--sidewalk', 'construction--flat--traffic-island'],
    'crosswalk': ['construction--flat--crosswalk-plain', 'marking--crosswalk-zebra',
                  'marking--discrete--crosswalk-zebra',
                  'marking-only--discrete--crosswalk-zebra'],
    'lane_marking': ['marking--general', 'marking--continuous--dashed',
                     'marking--continuous--solid', 'marking--continuous--zigzag',
                     'marking--discrete--ambiguous', 'marking--discrete--arrow--left',
                     'marking--discrete--arrow--other', 'marking--discrete--arrow--right',
                     'marking--discrete--arrow--split-left-or-straight',
                     'marking--discrete--arrow--split-right-or-straight',
                     'marking--discrete--arrow--straight', 'marking--discrete--give-way-row',
                     'marking--discrete--give-way-single', 'marking--discrete--hatched--chevron',
                     'marking--discrete--hatched--diagonal',
                     'marking--discrete--other-marking', 'marking--discrete--stop-line',
                     'marking--discrete--symbol--bicycle', 'marking--discrete--symbol--other',
                     'marking--discrete--text', 'marking-only--continuous--dashed',
                     'marking-only--discrete--other-marking', 'marking-only--discrete--text'],
    'building': ['construction--structure--building', 'construction--structure--garage'],
    'wall': ['construction--barrier--wall', 'construction--barrier--concrete-block'],
    'fence': ['construction--barrier--ambiguous', 'construction--barrier--fence',
              'construction--barrier--guard-rail', 'construction--barrier--other-barrier',
              'construction--barrier--road-side', 'construction--barrier--separator',
              'construction--barrier--temporary'],
    'pole': ['object--street-light', 'object--support--pole', 'object--support--pole-group',
             'object--support--traffic-sign-frame', 'object--support--utility-pole'],
    'traffic_light': ['object--traffic-light', 'object--traffic-light--cyclists',
                      'object--traffic-light--general-horizontal',
                      'object--traffic-light--general-single',
                      'object--traffic-light--general-upright',
                      'object--traffic-light--other', 'object--traffic-light--pedestrians'],
    'traffic_sign': ['object--traffic-sign--front', 'object--traffic-sign--direction-front',
                     'object--traffic-sign--information-parking',
                     'object--traffic-sign--temporary-front'],
    'vegetation': ['nature--vegetation'],
    'terrain': ['nature--sand', 'nature--snow', 'nature--terrain'],
    'sky': ['nature--sky'],
    'person': ['human--person', 'human--person--individual', 'human--person--person-group'],
    'rider': ['human--rider--bicyclist', 'human--rider--motorcyclist',
              'human--rider--other-rider'],
    'car': ['object--vehicle--car', 'object--vehicle--vehicle-group'],
    'truck': ['object--vehicle--truck', 'object--vehicle--caravan', 'object--vehicle--trailer'],
    'bus': ['object--vehicle--bus'],
    'train': ['object--vehicle--on-rails'],
    'motorcycle': ['object--vehicle--motorcycle'],
    'bicycle': ['object--vehicle--bicycle'],
}

VISTAS_READABLE_EXPECTED = {
    'road': ['Bike Lane', 'Parking', 'Road', 'Service Lane', 'Catch Basin', 'Manhole', 'Pothole'],
    'sidewalk': ['Curb', 'Curb Cut', 'Pedestrian Area', 'Sidewalk'],
    'crosswalk': ['Crosswalk - Plain', 'Lane Marking - Crosswalk'],
    'lane_marking': ['Lane Marking - General'],
    'building': ['Building'], 'wall': ['Wall'], 'fence': ['Fence', 'Guard Rail', 'Barrier'],
    'pole': ['Street Light', 'Pole', 'Traffic Sign Frame', 'Utility Pole'],
    'traffic_light': ['Traffic Light'], 'traffic_sign': ['Traffic Sign (Front)'],
    'vegetation': ['Vegetation'], 'terrain': ['Sand', 'Snow', 'Terrain'], 'sky': ['Sky'],
    'person': ['Person'], 'rider': ['Bicyclist', 'Motorcyclist', 'Other Rider'],
    'car': ['Car'], 'truck': ['Caravan', 'Trailer', 'Truck'], 'bus': ['Bus'],
    'train': ['On Rails'], 'motorcycle': ['Motorcycle'], 'bicycle': ['Bicycle'],
}

COCO_EXPECTED = {
    'person': ['person'], 'bicycle': ['bicycle'], 'car': ['car'], 'motorcycle': ['motorcycle'],
    'bus': ['bus'], 'train': ['train'], 'truck': ['truck'], 'traffic_light': ['traffic light'],
    'traffic_sign': ['stop sign'], 'road': ['road'], 'sidewalk': ['pavement-merged'],
    'building': ['house', 'roof', 'building-other-merged'],
    'wall': ['wall-brick', 'wall-stone', 'wall-tile', 'wall-wood', 'wall-other-merged'],
    'fence': ['fence-merged'], 'vegetation': ['tree-merged', 'flower'],
    'terrain': ['gravel', 'sand', 'snow', 'grass-merged', 'dirt-merged'],
    'sky': ['sky-other-merged'],
}

VOC_EXPECTED = {
    'bicycle': ['bicycle'], 'bus': ['bus'], 'car': ['car'], 'motorcycle': ['motorbike'],
    'person': ['person'], 'train': ['train'],
}


def _cases(names, expected):
    by_name = {name: canonical for canonical, listed in expected.items() for name in listed}
    assert set(by_name) <= set(names), set(by_name) - set(names)
    return [(name, by_name.get(name)) for name in names]


VISTAS_ALL = tuple(dict.fromkeys(label_sets.VISTAS_V12_NAMES + label_sets.VISTAS_V20_NAMES))


def test_dataset_name_lists_have_their_published_lengths():
    assert len(set(label_sets.VISTAS_V12_NAMES)) == 66
    assert len(label_sets.VISTAS_V12_READABLE_NAMES) == 66
    assert len(set(label_sets.VISTAS_V20_NAMES)) == 124
    assert len(set(label_sets.COCO_PANOPTIC_NAMES)) == 133
    assert len(label_sets.VOC_NAMES) == 21


@pytest.mark.parametrize('name,expected', _cases(VISTAS_ALL, VISTAS_EXPECTED))
def test_vistas_machine_name(name, expected):
    assert label_sets.canonical_name(name, 'vistas') == expected
    assert label_sets.canonical_name(name) == expected


@pytest.mark.parametrize('name,expected',
                         _cases(label_sets.VISTAS_V12_READABLE_NAMES, VISTAS_READABLE_EXPECTED))
def test_vistas_readable_name(name, expected):
    assert label_sets.canonical_name(name, 'vistas') == expected
    assert label_sets.canonical_name(name) == expected


@pytest.mark.parametrize('name,expected', _cases(label_sets.COCO_PANOPTIC_NAMES, COCO_EXPECTED))
def test_coco_panoptic_name(name, expected):
    assert label_sets.canonical_name(name, 'coco_panoptic') == expected
    assert label_sets.canonical_name(name) == expected


def test_coco_panoptic_names_as_detectron2_spells_them():
    for name, expected in (('tree', 'vegetation'), ('pavement', 'sidewalk'), ('grass', 'terrain'),
                           ('sky', 'sky'), ('building', 'building'), ('wall', 'wall'),
                           ('fence', 'fence'), ('dirt', 'terrain'), ('window', None),
                           ('floor', None), ('mountain', None)):
        assert label_sets.canonical_name(name, 'coco_panoptic') == expected, name


@pytest.mark.parametrize('name,expected', _cases(label_sets.VOC_NAMES, VOC_EXPECTED))
def test_voc_name(name, expected):
    assert label_sets.canonical_name(name, 'voc') == expected


def test_cityscapes_names_agree_with_the_train_id_table():
    for train_id, name in enumerate(label_sets.CITYSCAPES_TRAIN_ID_NAMES):
        spelled = name.replace('_', ' ')
        assert label_sets.canonical_name(spelled, 'cityscapes') == name, train_id


def test_label_sets_agree_on_every_name_they_share():
    seen = {}
    for set_name, table in label_sets.LABEL_SETS.items():
        for name, canonical in table.items():
            key = name.replace('_', ' ')
            assert seen.setdefault(key, (set_name, canonical))[1] == canonical, (name, set_name)


def test_vistas_v2_readable_lane_markings_and_spelling_variants():
    assert label_sets.canonical_name('Lane Marking - Dashed Line') == 'lane_marking'
    assert label_sets.canonical_name('Lane Marking (only) - Crosswalk') == 'crosswalk'
    assert label_sets.canonical_name('Traffic_Light') == 'traffic_light'
    assert label_sets.canonical_name('  traffic   SIGN ') == 'traffic_sign'
    with pytest.raises(KeyError, match="'spaceship' is not in label set"):
        label_sets.canonical_name('spaceship')
    with pytest.raises(KeyError, match='unknown label set'):
        label_sets.canonical_name('car', 'kitti')


def test_label_lookup_builds_a_table_and_lists_unknown_names():
    lookup = label_sets.label_lookup({0: 'Road', 1: 'Lane Marking - General', 2: 'Bird',
                                      300: 'car', 4: 'flux capacitor'})
    assert lookup.table.shape == (301,) and lookup.table.dtype == np.uint8
    assert lookup.table[0] == taxonomy.class_id('road')
    assert lookup.table[1] == taxonomy.class_id('lane_marking')
    assert lookup.table[2] == taxonomy.UNLABELED
    assert lookup.table[300] == taxonomy.class_id('car')
    assert lookup.table[4] == taxonomy.UNLABELED
    assert lookup.unknown == ('flux capacitor',)
