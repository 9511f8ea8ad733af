"""Turn a model's segments (masks or a segment-id map) into a canonical ``PanopticResult``.

Shared by the instance-capable backends (torchvision, transformers, detectron2): each maps its
model's classes to canonical ids first, then hands the segments here.
"""

from typing import Sequence, Tuple

import numpy as np
from scipy import ndimage

from seg_perception import taxonomy
from seg_perception.structures import PanopticResult, Segment

_IS_THING = taxonomy.thing_mask_table()


def paint_masks(masks: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Paint instance masks into one segment-id map, the highest score on top.

    Args:
        masks: (K, h, w) bool.
        scores: (K,) float; a pixel claimed by several masks goes to the best-scoring one.

    Returns:
        (h, w) int32 map: 0 = no mask, k = ``masks[k - 1]``.

    """
    segment_map = np.zeros(masks.shape[1:], dtype=np.int32)
    for k in np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')[::-1]:
        segment_map[masks[k]] = k + 1  # painted best-last, so the best one wins
    return segment_map


def panoptic_from_segments(
    segment_map: np.ndarray,
    classes: Sequence[int],
    scores: Sequence[float],
    image_size: Tuple[int, int],
    min_area_px: float = 64.0,
    background: np.ndarray = None,
) -> PanopticResult:
    """Build a canonical panoptic result from a segment-id map.

    Args:
        segment_map: (h, w) integer map at the working resolution; 0 = no segment, k = the
            segment with ``classes[k - 1]``.
        classes: (K,) canonical class id of each segment (``UNLABELED`` allowed).
        scores: (K,) confidence in [0, 1] of each segment.
        image_size: (H, W) of the input image; boxes and areas are scaled to it.
        min_area_px: thing segments smaller than this many input pixels get no instance (their
            pixels keep the class).
        background: optional (h, w) uint8 canonical ids for pixels without a segment; default
            ``UNLABELED``.

    Returns:
        a ``PanopticResult`` at the working resolution; thing segments become instances with
        ids 1..n in segment order, boxes in input-image pixels.

    """
    height, width = segment_map.shape
    classes = np.asarray(classes, dtype=np.uint8).reshape(-1)
    lut = np.concatenate([[taxonomy.UNLABELED], classes]).astype(np.uint8)
    semantic = lut[segment_map]
    if background is not None:
        semantic = np.where(segment_map == 0, background, semantic).astype(np.uint8)
    scale_y = image_size[0] / height
    scale_x = image_size[1] / width
    pixel_area = scale_x * scale_y
    areas = np.bincount(segment_map.ravel(), minlength=len(classes) + 1)
    instance_ids = np.zeros(len(classes) + 1, dtype=np.int32)
    segments = []
    for k, window in enumerate(ndimage.find_objects(segment_map, max_label=len(classes)), 1):
        class_id = int(classes[k - 1])
        if window is None or not _IS_THING[class_id] or areas[k] * pixel_area < min_area_px:
            continue
        rows, cols = window
        instance_ids[k] = len(segments) + 1
        segments.append(Segment(
            segment_id=len(segments) + 1,
            class_id=class_id,
            score=float(np.clip(scores[k - 1], 0.0, 1.0)),
            bbox=(cols.start * scale_x, rows.start * scale_y,
                  cols.stop * scale_x, rows.stop * scale_y),
            area=float(areas[k] * pixel_area),
        ))
    return PanopticResult(semantic=semantic, instance_map=instance_ids[segment_map],
                          segments=tuple(segments))
