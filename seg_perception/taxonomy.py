"""The canonical class taxonomy every backend maps its output to.

Class ids are the pixel values of the ``semantic`` image (``mono8``); ``UNLABELED`` (255) marks
pixels no class was given to. Ids are append-only: a class keeps its id across releases, so a
``semantic`` image recorded today is still readable tomorrow.
"""

from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

import numpy as np

UNLABELED = 255
UNLABELED_NAME = 'unlabeled'


@dataclass(frozen=True)
class ClassInfo:
    """One canonical class.

    Attributes:
        class_id: pixel value in the ``semantic`` image, 0..254.
        name: snake_case name published in ``label_info`` and in detections.
        is_thing: True for countable objects that get instances and track ids.
        color: (r, g, b) uint8 colour used by the overlay.

    """

    class_id: int
    name: str
    is_thing: bool
    color: Tuple[int, int, int]


# Colours follow the Cityscapes palette where Cityscapes has the class, so overlays look familiar.
CLASSES: Tuple[ClassInfo, ...] = (
    ClassInfo(0, 'road', False, (128, 64, 128)),
    ClassInfo(1, 'sidewalk', False, (244, 35, 232)),
    ClassInfo(2, 'lane_marking', False, (255, 255, 255)),
    ClassInfo(3, 'crosswalk', False, (200, 128, 128)),
    ClassInfo(4, 'building', False, (70, 70, 70)),
    ClassInfo(5, 'wall', False, (102, 102, 156)),
    ClassInfo(6, 'fence', False, (190, 153, 153)),
    ClassInfo(7, 'pole', False, (153, 153, 153)),
    ClassInfo(8, 'traffic_light', True, (250, 170, 30)),
    ClassInfo(9, 'traffic_sign', True, (220, 220, 0)),
    ClassInfo(10, 'vegetation', False, (107, 142, 35)),
    ClassInfo(11, 'terrain', False, (152, 251, 152)),
    ClassInfo(12, 'sky', False, (70, 130, 180)),
    ClassInfo(13, 'person', True, (220, 20, 60)),
    ClassInfo(14, 'rider', True, (255, 0, 0)),
    ClassInfo(15, 'car', True, (0, 0, 142)),
    ClassInfo(16, 'truck', True, (0, 0, 70)),
    ClassInfo(17, 'bus', True, (0, 60, 100)),
    ClassInfo(18, 'train', True, (0, 80, 100)),
    ClassInfo(19, 'motorcycle', True, (0, 0, 230)),
    ClassInfo(20, 'bicycle', True, (119, 11, 32)),
)

CLASS_BY_NAME: Dict[str, ClassInfo] = {info.name: info for info in CLASSES}
CLASS_BY_ID: Dict[int, ClassInfo] = {info.class_id: info for info in CLASSES}
CLASS_NAMES: Tuple[str, ...] = tuple(info.name for info in CLASSES)
THING_IDS: Tuple[int, ...] = tuple(info.class_id for info in CLASSES if info.is_thing)


def class_id(name: str) -> int:
    """Return the canonical id of ``name``; raise KeyError listing valid names if unknown."""
    try:
        return CLASS_BY_NAME[name].class_id
    except KeyError:
        raise KeyError(
            f'unknown class {name!r}; canonical classes are: {", ".join(CLASS_NAMES)}'
        ) from None


def palette() -> np.ndarray:
    """Return the overlay colour table, shape (256, 3) uint8 RGB; unlabeled pixels are black."""
    table = np.zeros((256, 3), dtype=np.uint8)
    for info in CLASSES:
        table[info.class_id] = info.color
    return table


def thing_mask_table() -> np.ndarray:
    """Return a lookup table, shape (256,) bool, True at the ids of thing classes."""
    table = np.zeros(256, dtype=bool)
    table[list(THING_IDS)] = True
    return table


def lookup_table(source_to_canonical: Mapping[int, str]) -> np.ndarray:
    """Build a table mapping a model's class ids to canonical ids.

    Args:
        source_to_canonical: source class id -> canonical class name; ids not listed map to
            ``UNLABELED``.

    Returns:
        (256,) uint8 array; ``table[source_id]`` is the canonical id.

    """
    table = np.full(256, UNLABELED, dtype=np.uint8)
    for source_id, name in source_to_canonical.items():
        if not 0 <= source_id < 256:
            raise ValueError(f'source class id {source_id} is outside 0..255')
        table[source_id] = class_id(name)
    return table
