"""The overlay shows what planners get: class colours, outlines, and ``class #id`` per object."""

import numpy as np

from seg_perception import taxonomy
from seg_perception.overlay import object_labels, render_overlay
from seg_perception.structures import TrackedObject

CAR = taxonomy.CLASS_NAMES.index('car')


def _scene():
    image = np.full((120, 200, 3), 40, np.uint8)
    semantic = np.full((120, 200), taxonomy.UNLABELED, np.uint8)
    semantic[60:100, 50:150] = CAR
    instances = np.zeros((120, 200), np.uint16)
    instances[60:100, 50:150] = 7
    return image, semantic, instances


def test_object_labels_name_the_class_and_track_id():
    objects = (TrackedObject(track_id=7, class_id=CAR, score=0.9, bbox=(50, 60, 150, 100)),)
    assert object_labels(objects) == (((50, 60, 150, 100), 'car #7'),)


def test_overlay_draws_the_box_and_a_text_above_it_only_when_labelled():
    image, semantic, instances = _scene()
    plain = render_overlay(image, semantic, instances, 0.5)
    labels = (((50.0, 60.0, 150.0, 100.0), 'car #7'),)
    labelled = render_overlay(image, semantic, instances, 0.5, labels)
    changed = np.any(labelled != plain, axis=2)
    # The text sits in the band above the box; nothing changes far from the box.
    assert changed[40:60, 50:150].sum() > 30
    assert not changed[:, 170:].any()
    assert (labelled[60, 60:140] == 255).all()  # top edge of the box outline, white
    # Inputs are left alone.
    assert (image == 40).all()
