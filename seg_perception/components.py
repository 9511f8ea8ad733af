"""Split the thing classes of a semantic map into instances by connected components.

Used by semantic-only backends (ESPNetv2): every 8-connected region of one thing class becomes one
instance. Touching objects of the same class merge into one instance; a real instance model does
better, and the tracker keeps ids stable across frames either way.
"""

from typing import List, Tuple

import cv2
import numpy as np

from seg_perception import taxonomy
from seg_perception.structures import PanopticResult, Segment

_IS_THING = taxonomy.thing_mask_table()


def panoptic_from_semantic(
    semantic: np.ndarray,
    image_size: Tuple[int, int],
    min_area_px: float = 64.0,
    scores: np.ndarray = None,
) -> PanopticResult:
    """Split thing regions of ``semantic`` into instances.

    Args:
        semantic: (h, w) uint8 canonical class ids at the backend's working resolution.
        image_size: (H, W) of the input image; boxes and areas are scaled to it.
        min_area_px: regions smaller than this many input-image pixels are left as semantic
            pixels without an instance (speckle from the network).
        scores: optional (h, w) float32 per-pixel confidence; an instance's score is its mean.
            Without it every instance scores 1.0.

    Returns:
        a ``PanopticResult`` at the working resolution with boxes in input-image pixels.

    """
    height, width = semantic.shape
    scale_y = image_size[0] / height
    scale_x = image_size[1] / width
    pixel_area = scale_x * scale_y
    instance_map = np.zeros((height, width), dtype=np.int32)
    segments: List[Segment] = []
    present = np.unique(semantic)
    for class_id in present[_IS_THING[present]]:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (semantic == class_id).view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        for component in range(1, count):
            x, y, w, h, area = stats[component]
            if area * pixel_area < min_area_px:
                continue
            segment_id = len(segments) + 1
            window = labels[y:y + h, x:x + w] == component
            instance_map[y:y + h, x:x + w][window] = segment_id
            score = 1.0 if scores is None else float(scores[y:y + h, x:x + w][window].mean())
            segments.append(Segment(
                segment_id=segment_id,
                class_id=int(class_id),
                score=score,
                bbox=(x * scale_x, y * scale_y, (x + w) * scale_x, (y + h) * scale_y),
                area=float(area * pixel_area),
            ))
    return PanopticResult(semantic=semantic, instance_map=instance_map, segments=tuple(segments))
