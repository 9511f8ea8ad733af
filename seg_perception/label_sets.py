"""Dataset class names -> canonical classes: Cityscapes, Mapillary Vistas, COCO-panoptic, VOC.

The canonical classes themselves are in ``taxonomy``; this module only maps other label sets
onto them (by id table or by name).
"""

from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

import numpy as np

from seg_perception.taxonomy import class_id, CLASS_NAMES, lookup_table, UNLABELED


# Cityscapes train ids 0..18 in their published order.
CITYSCAPES_TRAIN_ID_NAMES: Tuple[str, ...] = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic_light', 'traffic_sign',
    'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
    'motorcycle', 'bicycle',
)

# Cityscapes label ids (gtFine_labelIds) of the 19 evaluated classes -> canonical name.
CITYSCAPES_LABEL_ID_NAMES: Dict[int, str] = {
    7: 'road', 8: 'sidewalk', 11: 'building', 12: 'wall', 13: 'fence', 17: 'pole',
    19: 'traffic_light', 20: 'traffic_sign', 21: 'vegetation', 22: 'terrain', 23: 'sky',
    24: 'person', 25: 'rider', 26: 'car', 27: 'truck', 28: 'bus', 31: 'train',
    32: 'motorcycle', 33: 'bicycle',
}


def cityscapes_train_id_table() -> np.ndarray:
    """Return (256,) uint8: Cityscapes train id (0..18; 19 and 255 ignore) -> canonical id."""
    return lookup_table(dict(enumerate(CITYSCAPES_TRAIN_ID_NAMES)))


def cityscapes_label_id_table() -> np.ndarray:
    """Return (256,) uint8: Cityscapes label id (gtFine_labelIds, 0..33) -> canonical id."""
    return lookup_table(CITYSCAPES_LABEL_ID_NAMES)


# --- Mapillary Vistas, COCO-panoptic, Pascal VOC: class names -> canonical names --------------
# Names map to a canonical name or to None (no canonical class: the pixels become UNLABELED).
# Choices beyond the obvious, the same in every dataset: parking areas, driveways and road
# shoulders are road (a planner may drive there); curbs, curb cuts, traffic islands and pedestrian
# areas are sidewalk (Cityscapes draws curbs as sidewalk); manholes, catch basins and potholes lie
# in the road surface and are road; street lights, utility poles and sign frames are pole (as in
# Cityscapes); sand, snow, gravel and dirt are terrain; caravans and trailers are truck; vehicle
# groups (far-away queues of cars) are car; the backs of traffic signs and non-traffic signs
# (shops, adverts) are not traffic_sign (they tell this camera nothing); every crosswalk, painted
# or plain, is crosswalk and every other road marking (lines, arrows, text, stop lines) is
# lane_marking.

_VISTAS_MACHINE_NAMES: Dict[str, str] = {
    'animal--bird': None, 'animal--ground-animal': None,
    'construction--barrier--ambiguous': 'fence', 'construction--barrier--concrete-block': 'wall',
    'construction--barrier--curb': 'sidewalk', 'construction--barrier--fence': 'fence',
    'construction--barrier--guard-rail': 'fence', 'construction--barrier--other-barrier': 'fence',
    'construction--barrier--road-median': 'sidewalk',
    'construction--barrier--road-side': 'fence', 'construction--barrier--separator': 'fence',
    'construction--barrier--temporary': 'fence', 'construction--barrier--wall': 'wall',
    'construction--flat--bike-lane': 'road', 'construction--flat--crosswalk-plain': 'crosswalk',
    'construction--flat--curb-cut': 'sidewalk', 'construction--flat--driveway': 'road',
    'construction--flat--parking': 'road', 'construction--flat--parking-aisle': 'road',
    'construction--flat--pedestrian-area': 'sidewalk', 'construction--flat--rail-track': None,
    'construction--flat--road': 'road', 'construction--flat--road-shoulder': 'road',
    'construction--flat--service-lane': 'road', 'construction--flat--sidewalk': 'sidewalk',
    'construction--flat--traffic-island': 'sidewalk', 'construction--structure--bridge': None,
    'construction--structure--building': 'building', 'construction--structure--garage': 'building',
    'construction--structure--tunnel': None,
    'human--person': 'person', 'human--person--individual': 'person',
    'human--person--person-group': 'person', 'human--rider--bicyclist': 'rider',
    'human--rider--motorcyclist': 'rider', 'human--rider--other-rider': 'rider',
    'marking--crosswalk-zebra': 'crosswalk', 'marking--general': 'lane_marking',
    'marking--continuous--dashed': 'lane_marking', 'marking--continuous--solid': 'lane_marking',
    'marking--continuous--zigzag': 'lane_marking',
    'marking--discrete--ambiguous': 'lane_marking',
    'marking--discrete--arrow--left': 'lane_marking',
    'marking--discrete--arrow--other': 'lane_marking',
    'marking--discrete--arrow--right': 'lane_marking',
    'marking--discrete--arrow--split-left-or-straight': 'lane_marking',
    'marking--discrete--arrow--split-right-or-straight': 'lane_marking',
    'marking--discrete--arrow--straight': 'lane_marking',
    'marking--discrete--crosswalk-zebra': 'crosswalk',
    'marking--discrete--give-way-row': 'lane_marking',
    'marking--discrete--give-way-single': 'lane_marking',
    'marking--discrete--hatched--chevron': 'lane_marking',
    'marking--discrete--hatched--diagonal': 'lane_marking',
    'marking--discrete--other-marking': 'lane_marking',
    'marking--discrete--stop-line': 'lane_marking',
    'marking--discrete--symbol--bicycle': 'lane_marking',
    'marking--discrete--symbol--other': 'lane_marking',
    'marking--discrete--text': 'lane_marking',
    'marking-only--continuous--dashed': 'lane_marking',
    'marking-only--discrete--crosswalk-zebra': 'crosswalk',
    'marking-only--discrete--other-marking': 'lane_marking',
    'marking-only--discrete--text': 'lane_marking',
    'nature--mountain': None, 'nature--sand': 'terrain', 'nature--sky': 'sky',
    'nature--snow': 'terrain', 'nature--terrain': 'terrain', 'nature--vegetation': 'vegetation',
    'nature--water': None,
    'object--banner': None, 'object--bench': None, 'object--bike-rack': None,
    'object--billboard': None, 'object--catch-basin': 'road', 'object--cctv-camera': None,
    'object--fire-hydrant': None, 'object--junction-box': None, 'object--mailbox': None,
    'object--manhole': 'road', 'object--parking-meter': None, 'object--phone-booth': None,
    'object--pothole': 'road', 'object--sign--advertisement': None,
    'object--sign--ambiguous': None, 'object--sign--back': None,
    'object--sign--information': None, 'object--sign--other': None, 'object--sign--store': None,
    'object--street-light': 'pole', 'object--support--pole': 'pole',
    'object--support--pole-group': 'pole', 'object--support--traffic-sign-frame': 'pole',
    'object--support--utility-pole': 'pole', 'object--traffic-cone': None,
    'object--traffic-light': 'traffic_light',
    'object--traffic-light--cyclists': 'traffic_light',
    'object--traffic-light--general-horizontal': 'traffic_light',
    'object--traffic-light--general-single': 'traffic_light',
    'object--traffic-light--general-upright': 'traffic_light',
    'object--traffic-light--other': 'traffic_light',
    'object--traffic-light--pedestrians': 'traffic_light',
    'object--traffic-sign--ambiguous': None, 'object--traffic-sign--back': None,
    'object--traffic-sign--direction-back': None,
    'object--traffic-sign--direction-front': 'traffic_sign',
    'object--traffic-sign--front': 'traffic_sign',
    'object--traffic-sign--information-parking': 'traffic_sign',
    'object--traffic-sign--temporary-back': None,
    'object--traffic-sign--temporary-front': 'traffic_sign',
    'object--trash-can': None, 'object--vehicle--bicycle': 'bicycle',
    'object--vehicle--boat': None,
    'object--vehicle--bus': 'bus', 'object--vehicle--car': 'car',
    'object--vehicle--caravan': 'truck', 'object--vehicle--motorcycle': 'motorcycle',
    'object--vehicle--on-rails': 'train', 'object--vehicle--other-vehicle': None,
    'object--vehicle--trailer': 'truck', 'object--vehicle--truck': 'truck',
    'object--vehicle--vehicle-group': 'car', 'object--vehicle--wheeled-slow': None,
    'object--water-valve': None,
    'void--car-mount': None, 'void--dynamic': None, 'void--ego-vehicle': None,
    'void--ground': None, 'void--static': None, 'void--unlabeled': None,
}

#: Mapillary Vistas v1.2: the 66 machine names (config.json ``name``) in label-id order.
VISTAS_V12_NAMES: Tuple[str, ...] = (
    'animal--bird', 'animal--ground-animal', 'construction--barrier--curb',
    'construction--barrier--fence', 'construction--barrier--guard-rail',
    'construction--barrier--other-barrier', 'construction--barrier--wall',
    'construction--flat--bike-lane', 'construction--flat--crosswalk-plain',
    'construction--flat--curb-cut', 'construction--flat--parking',
    'construction--flat--pedestrian-area', 'construction--flat--rail-track',
    'construction--flat--road', 'construction--flat--service-lane', 'construction--flat--sidewalk',
    'construction--structure--bridge', 'construction--structure--building',
    'construction--structure--tunnel', 'human--person', 'human--rider--bicyclist',
    'human--rider--motorcyclist', 'human--rider--other-rider', 'marking--crosswalk-zebra',
    'marking--general', 'nature--mountain', 'nature--sand', 'nature--sky', 'nature--snow',
    'nature--terrain', 'nature--vegetation', 'nature--water', 'object--banner', 'object--bench',
    'object--bike-rack', 'object--billboard', 'object--catch-basin', 'object--cctv-camera',
    'object--fire-hydrant', 'object--junction-box', 'object--mailbox', 'object--manhole',
    'object--phone-booth', 'object--pothole', 'object--street-light', 'object--support--pole',
    'object--support--traffic-sign-frame', 'object--support--utility-pole',
    'object--traffic-light', 'object--traffic-sign--back', 'object--traffic-sign--front',
    'object--trash-can', 'object--vehicle--bicycle', 'object--vehicle--boat',
    'object--vehicle--bus', 'object--vehicle--car', 'object--vehicle--caravan',
    'object--vehicle--motorcycle', 'object--vehicle--on-rails', 'object--vehicle--other-vehicle',
    'object--vehicle--trailer', 'object--vehicle--truck', 'object--vehicle--wheeled-slow',
    'void--car-mount', 'void--ego-vehicle', 'void--unlabeled',
)

#: Mapillary Vistas v1.2: the readable names (config.json ``readable``), same order; these are
#: the ``id2label`` of the Vistas checkpoints of Mask2Former and OneFormer on the HuggingFace hub.
VISTAS_V12_READABLE_NAMES: Tuple[str, ...] = (
    'Bird', 'Ground Animal', 'Curb', 'Fence', 'Guard Rail', 'Barrier', 'Wall', 'Bike Lane',
    'Crosswalk - Plain', 'Curb Cut', 'Parking', 'Pedestrian Area', 'Rail Track', 'Road',
    'Service Lane', 'Sidewalk', 'Bridge', 'Building', 'Tunnel', 'Person', 'Bicyclist',
    'Motorcyclist', 'Other Rider', 'Lane Marking - Crosswalk', 'Lane Marking - General',
    'Mountain', 'Sand', 'Sky', 'Snow', 'Terrain', 'Vegetation', 'Water', 'Banner', 'Bench',
    'Bike Rack', 'Billboard', 'Catch Basin', 'CCTV Camera', 'Fire Hydrant', 'Junction Box',
    'Mailbox', 'Manhole', 'Phone Booth', 'Pothole', 'Street Light', 'Pole', 'Traffic Sign Frame',
    'Utility Pole', 'Traffic Light', 'Traffic Sign (Back)', 'Traffic Sign (Front)', 'Trash Can',
    'Bicycle', 'Boat', 'Bus', 'Car', 'Caravan', 'Motorcycle', 'On Rails', 'Other Vehicle',
    'Trailer', 'Truck', 'Wheeled Slow', 'Car Mount', 'Ego Vehicle', 'Unlabeled',
)

#: Mapillary Vistas v2.0: the 124 machine names (config_v2.0.json ``name``) in label-id order.
VISTAS_V20_NAMES: Tuple[str, ...] = (
    'animal--bird', 'animal--ground-animal', 'construction--barrier--ambiguous',
    'construction--barrier--concrete-block', 'construction--barrier--curb',
    'construction--barrier--fence', 'construction--barrier--guard-rail',
    'construction--barrier--other-barrier', 'construction--barrier--road-median',
    'construction--barrier--road-side', 'construction--barrier--separator',
    'construction--barrier--temporary', 'construction--barrier--wall',
    'construction--flat--bike-lane', 'construction--flat--crosswalk-plain',
    'construction--flat--curb-cut', 'construction--flat--driveway', 'construction--flat--parking',
    'construction--flat--parking-aisle', 'construction--flat--pedestrian-area',
    'construction--flat--rail-track', 'construction--flat--road',
    'construction--flat--road-shoulder', 'construction--flat--service-lane',
    'construction--flat--sidewalk', 'construction--flat--traffic-island',
    'construction--structure--bridge', 'construction--structure--building',
    'construction--structure--garage', 'construction--structure--tunnel',
    'human--person--individual', 'human--person--person-group', 'human--rider--bicyclist',
    'human--rider--motorcyclist', 'human--rider--other-rider', 'marking--continuous--dashed',
    'marking--continuous--solid', 'marking--continuous--zigzag', 'marking--discrete--ambiguous',
    'marking--discrete--arrow--left', 'marking--discrete--arrow--other',
    'marking--discrete--arrow--right', 'marking--discrete--arrow--split-left-or-straight',
    'marking--discrete--arrow--split-right-or-straight', 'marking--discrete--arrow--straight',
    'marking--discrete--crosswalk-zebra', 'marking--discrete--give-way-row',
    'marking--discrete--give-way-single', 'marking--discrete--hatched--chevron',
    'marking--discrete--hatched--diagonal', 'marking--discrete--other-marking',
    'marking--discrete--stop-line', 'marking--discrete--symbol--bicycle',
    'marking--discrete--symbol--other', 'marking--discrete--text',
    'marking-only--continuous--dashed', 'marking-only--discrete--crosswalk-zebra',
    'marking-only--discrete--other-marking', 'marking-only--discrete--text', 'nature--mountain',
    'nature--sand', 'nature--sky', 'nature--snow', 'nature--terrain', 'nature--vegetation',
    'nature--water', 'object--banner', 'object--bench', 'object--bike-rack',
    'object--catch-basin', 'object--cctv-camera', 'object--fire-hydrant', 'object--junction-box',
    'object--mailbox', 'object--manhole', 'object--parking-meter', 'object--phone-booth',
    'object--pothole', 'object--sign--advertisement', 'object--sign--ambiguous',
    'object--sign--back', 'object--sign--information', 'object--sign--other',
    'object--sign--store', 'object--street-light', 'object--support--pole',
    'object--support--pole-group', 'object--support--traffic-sign-frame',
    'object--support--utility-pole', 'object--traffic-cone',
    'object--traffic-light--general-single', 'object--traffic-light--pedestrians',
    'object--traffic-light--general-upright', 'object--traffic-light--general-horizontal',
    'object--traffic-light--cyclists', 'object--traffic-light--other',
    'object--traffic-sign--ambiguous', 'object--traffic-sign--back',
    'object--traffic-sign--direction-back', 'object--traffic-sign--direction-front',
    'object--traffic-sign--front', 'object--traffic-sign--information-parking',
    'object--traffic-sign--temporary-back', 'object--traffic-sign--temporary-front',
    'object--trash-can', 'object--vehicle--bicycle', 'object--vehicle--boat',
    'object--vehicle--bus', 'object--vehicle--car', 'object--vehicle--caravan',
    'object--vehicle--motorcycle', 'object--vehicle--on-rails', 'object--vehicle--other-vehicle',
    'object--vehicle--trailer', 'object--vehicle--truck', 'object--vehicle--vehicle-group',
    'object--vehicle--wheeled-slow', 'object--water-valve', 'void--car-mount', 'void--dynamic',
    'void--ego-vehicle', 'void--ground', 'void--static', 'void--unlabeled',
)

#: COCO-panoptic: the 133 category names (80 things, then 53 stuff) in contiguous-id order, as
#: detectron2's ``coco_2017_val_panoptic`` metadata and the hub's COCO checkpoints name them.
COCO_PANOPTIC_NAMES: Tuple[str, ...] = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich',
    'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
    'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book',
    'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
    'banner', 'blanket', 'bridge', 'cardboard', 'counter', 'curtain', 'door-stuff', 'floor-wood',
    'flower', 'fruit', 'gravel', 'house', 'light', 'mirror-stuff', 'net', 'pillow', 'platform',
    'playingfield', 'railroad', 'river', 'road', 'roof', 'sand', 'sea', 'shelf', 'snow',
    'stairs', 'tent', 'towel', 'wall-brick', 'wall-stone', 'wall-tile', 'wall-wood',
    'water-other', 'window-blind', 'window-other', 'tree-merged', 'fence-merged',
    'ceiling-merged', 'sky-other-merged', 'cabinet-merged', 'table-merged', 'floor-other-merged',
    'pavement-merged', 'mountain-merged', 'grass-merged', 'dirt-merged', 'paper-merged',
    'food-other-merged', 'building-other-merged', 'rock-merged', 'wall-other-merged',
    'rug-merged',
)

# COCO names with a canonical class; every other COCO-panoptic name maps to None.
_COCO_CANONICAL: Dict[str, str] = {
    'person': 'person', 'bicycle': 'bicycle', 'car': 'car', 'motorcycle': 'motorcycle',
    'bus': 'bus', 'train': 'train', 'truck': 'truck', 'traffic light': 'traffic_light',
    'stop sign': 'traffic_sign', 'gravel': 'terrain', 'house': 'building', 'road': 'road',
    'roof': 'building', 'sand': 'terrain', 'snow': 'terrain', 'wall-brick': 'wall',
    'wall-stone': 'wall', 'wall-tile': 'wall', 'wall-wood': 'wall', 'tree-merged': 'vegetation',
    'fence-merged': 'fence', 'sky-other-merged': 'sky', 'pavement-merged': 'sidewalk',
    'grass-merged': 'terrain', 'dirt-merged': 'terrain', 'building-other-merged': 'building',
    'wall-other-merged': 'wall', 'flower': 'vegetation',
}

#: Pascal VOC: the 21 labels of torchvision's semantic models (``COCO_WITH_VOC_LABELS_V1``).
VOC_NAMES: Tuple[str, ...] = (
    '__background__', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
    'sheep', 'sofa', 'train', 'tvmonitor',
)
_VOC_CANONICAL: Dict[str, str] = {
    'bicycle': 'bicycle', 'bus': 'bus', 'car': 'car', 'motorbike': 'motorcycle',
    'person': 'person', 'train': 'train',
}

# Cityscapes names as its labels.py writes them (all 34 label ids + 'license plate').
_CITYSCAPES_CANONICAL: Dict[str, str] = {
    'unlabeled': None, 'ego vehicle': None, 'rectification border': None, 'out of roi': None,
    'static': None, 'dynamic': None, 'ground': None, 'road': 'road', 'sidewalk': 'sidewalk',
    'parking': 'road', 'rail track': None, 'building': 'building', 'wall': 'wall',
    'fence': 'fence', 'guard rail': 'fence', 'bridge': None, 'tunnel': None, 'pole': 'pole',
    'polegroup': 'pole', 'traffic light': 'traffic_light', 'traffic sign': 'traffic_sign',
    'vegetation': 'vegetation', 'terrain': 'terrain', 'sky': 'sky', 'person': 'person',
    'rider': 'rider', 'car': 'car', 'truck': 'truck', 'bus': 'bus', 'caravan': 'truck',
    'trailer': 'truck', 'train': 'train', 'motorcycle': 'motorcycle', 'bicycle': 'bicycle',
    'license plate': 'car',
}

#: Label sets ``label_lookup`` knows: name -> {normalised class name -> canonical name or None}.
LABEL_SETS: Dict[str, Dict[str, str]] = {
    'cityscapes': dict(_CITYSCAPES_CANONICAL),
    'vistas': {
        **_VISTAS_MACHINE_NAMES,
        **{readable.lower(): _VISTAS_MACHINE_NAMES[name]
           for readable, name in zip(VISTAS_V12_READABLE_NAMES, VISTAS_V12_NAMES)},
    },
    # Both spellings: the dataset's, and detectron2's metadata ('-other' / '-merged' dropped).
    'coco_panoptic': {
        **{name.replace('-other', '').replace('-merged', ''): _COCO_CANONICAL.get(name)
           for name in COCO_PANOPTIC_NAMES},
        **{name: _COCO_CANONICAL.get(name) for name in COCO_PANOPTIC_NAMES},
    },
    'voc': {name: _VOC_CANONICAL.get(name) for name in VOC_NAMES},
    'canonical': {name: name for name in CLASS_NAMES},
}


def _normalise(name: str) -> str:
    return ' '.join(name.strip().lower().replace('_', ' ').split()) if '--' not in name \
        else name.strip().lower()


def canonical_name(name: str, label_set: str = 'auto') -> str:
    """Return the canonical class name of a dataset's class ``name``, or None if it has none.

    Args:
        name: a class name as a model's ``id2label`` or a dataset's metadata writes it; case,
            underscores and repeated spaces do not matter ('Traffic Light' = 'traffic_light').
        label_set: a key of ``LABEL_SETS``, or ``'auto'``: the first set that knows the name, in
            the order canonical, cityscapes, vistas, coco_panoptic, voc (the sets agree on every
            name they share, which the tests check).

    Raises:
        KeyError: an unknown ``label_set``, or a name no label set knows.

    """
    key = _normalise(name)
    if label_set != 'auto' and label_set not in LABEL_SETS:
        raise KeyError(f'unknown label set {label_set!r}; known: auto, {", ".join(LABEL_SETS)}')
    names = ('canonical', 'cityscapes', 'vistas', 'coco_panoptic', 'voc') \
        if label_set == 'auto' else (label_set,)
    for set_name in names:
        table = LABEL_SETS[set_name]
        for candidate in (key, key.replace(' ', '_'), name.strip().lower()):
            if candidate in table:
                return table[candidate]
    if label_set in ('auto', 'vistas') and key.startswith('lane marking'):
        # Vistas v2.0 readable names: 'Lane Marking - Dashed Line', 'Lane Marking - Crosswalk' ...
        return 'crosswalk' if 'crosswalk' in key else 'lane_marking'
    raise KeyError(f'class name {name!r} is not in label set(s) {", ".join(names)}')


@dataclass(frozen=True)
class LabelLookup:
    """A model's class ids mapped to canonical ids.

    Attributes:
        table: (n,) uint8, ``table[model_id]`` = canonical id or ``UNLABELED``; ``n`` is at least
            256 and above the largest model id.
        unknown: model class names no label set knows (they map to ``UNLABELED``).

    """

    table: np.ndarray
    unknown: Tuple[str, ...]


def label_lookup(id2label: Mapping[int, str], label_set: str = 'auto') -> LabelLookup:
    """Map a model's ``id2label`` (class id -> dataset class name) to canonical ids.

    Names without a canonical class, and unknown names, map to ``UNLABELED``; the unknown ones
    are listed in the result so the caller can warn about them.
    """
    ids = [int(i) for i in id2label]
    if any(i < 0 for i in ids):
        raise ValueError(f'class ids must be >= 0, got {min(ids)}')
    table = np.full(max([256] + [i + 1 for i in ids]), UNLABELED, dtype=np.uint8)
    unknown = []
    for model_id, name in id2label.items():
        try:
            canonical = canonical_name(name, label_set)
        except KeyError:
            unknown.append(name)
            continue
        if canonical is not None:
            table[int(model_id)] = class_id(canonical)
    return LabelLookup(table=table, unknown=tuple(unknown))
