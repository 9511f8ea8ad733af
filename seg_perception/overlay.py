"""Colourised blend of an image and its segmentation, for RViz and saved previews."""

from typing import Iterable, Sequence, Tuple

import cv2
import numpy as np

from seg_perception import taxonomy
from seg_perception.structures import TrackedObject

#: A box (x_min, y_min, x_max, y_max) in float pixels and the text drawn above it.
BoxLabel = Tuple[Tuple[float, float, float, float], str]

# cv2.LUT on a 3-channel image: several times faster than numpy fancy indexing.
_PALETTE_LUT = taxonomy.palette().reshape(256, 1, 3)


def object_labels(objects: Iterable[TrackedObject]) -> Tuple[BoxLabel, ...]:
    """Return (box, ``class #id``) of each tracked object, the text planners' messages carry."""
    return tuple((obj.bbox, f'{taxonomy.CLASS_NAMES[obj.class_id]} #{obj.track_id}')
                 for obj in objects)


def draw_box_labels(rgb: np.ndarray, labels: Sequence[BoxLabel]) -> np.ndarray:
    """Draw each box outline and its text above it on (H, W, 3) uint8 RGB, in place.

    The text scales with the image width (readable at 480 to 4K pixels wide); it is white with a
    black outline so that it reads on any class colour.
    """
    scale = max(0.4, rgb.shape[1] / 2400.0)
    thickness = max(1, int(round(scale * 1.5)))
    for (x0, y0, x1, y1), text in labels:
        top_left = (int(round(x0)), int(round(y0)))
        cv2.rectangle(rgb, top_left, (int(round(x1)), int(round(y1))), (255, 255, 255),
                      thickness)
        origin = (top_left[0], max(top_left[1] - 4, int(12 * scale)))
        cv2.putText(rgb, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                    thickness + 2, cv2.LINE_AA)
        cv2.putText(rgb, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thickness, cv2.LINE_AA)
    return rgb


def render_overlay(
    image: np.ndarray, semantic: np.ndarray, instances: np.ndarray, alpha: float = 0.5,
    labels: Sequence[BoxLabel] = (),
) -> np.ndarray:
    """Blend class colours over an image, outline each instance and label the tracked objects.

    Args:
        image: (H, W, 3) uint8 RGB.
        semantic: (H, W) uint8 canonical class ids; unlabeled pixels keep the image colour.
        instances: (H, W) uint16 track ids; 0 = none. Instance borders are drawn in white.
        alpha: weight of the class colour, 0..1.
        labels: boxes and texts to draw (``object_labels`` of a frame's objects), in pixels of
            ``image``.

    Returns:
        (H, W, 3) uint8 RGB.

    """
    colours = cv2.LUT(cv2.merge([semantic, semantic, semantic]), _PALETTE_LUT)
    blended = cv2.addWeighted(image, 1.0 - alpha, colours, alpha, 0.0)
    unlabeled = semantic == taxonomy.UNLABELED
    blended[unlabeled] = image[unlabeled]
    if instances.any():
        # A pixel is on a border where its right or lower neighbour has another instance value.
        border = np.zeros(instances.shape, dtype=bool)
        border[:, :-1] |= instances[:, :-1] != instances[:, 1:]
        border[:-1, :] |= instances[:-1, :] != instances[1:, :]
        blended[border] = 255
    if labels:
        draw_box_labels(blended, labels)
    return blended
