"""Split the thing classes of a semantic map into instances by connected components.

Used by semantic-only backends (ESPNetv2): every 8-connected region of one thing class becomes one
instance. Touching objects of the same class merge into one instance; a real instance model does
better, and the tracker keeps ids stable across frames either way.

Speed: one labelling pass over the mask of all thing pixels finds the blobs; a blob of one class
is an instance as it is, and only blobs where classes touch are labelled again per class, inside
their bounding box. The result is the same as one full-image pass per class (the per-class
components of a class lie inside one blob each), in a fraction of the time.
"""

from typing import List, Tuple

import cv2
import numpy as np
from scipy import ndimage

from seg_perception import taxonomy
from seg_perception.structures import PanopticResult, Segment

_IS_THING = taxonomy.thing_mask_table()


def panoptic_from_semantic(
    semantic: np.ndarray,
    image_size: Tuple[int, int],
    min_area_px: float = 64.0,
    scores: np.ndarray = None,
    score_stride: int = 1,
) -> PanopticResult:
    """Split thing regions of ``semantic`` into instances.

    Args:
        semantic: (h, w) uint8 canonical class ids at the backend's working resolution.
        image_size: (H, W) of the input image; boxes and areas are scaled to it.
        min_area_px: regions smaller than this many input-image pixels are left as semantic
            pixels without an instance (speckle from the network).
        scores: optional float32 per-pixel confidence; an instance's score is its mean over the
            instance's pixels. Shape (h, w), or (ceil(h / s), ceil(w / s)) for
            ``score_stride`` s > 1, where pixel (y, x) has ``scores[y // s, x // s]``.
            Without it every instance scores 1.0.
        score_stride: pixel stride of ``scores`` (>= 1).

    Returns:
        a ``PanopticResult`` at the working resolution with boxes in input-image pixels.
        Segments are ordered by class id, then by their first pixel in raster order.

    """
    semantic = np.ascontiguousarray(semantic, dtype=np.uint8)
    height, width = semantic.shape
    scale_y = image_size[0] / height
    scale_x = image_size[1] / width
    pixel_area = scale_x * scale_y
    instance_map = np.zeros((height, width), dtype=np.int32)
    if score_stride < 1:
        raise ValueError(f'score_stride must be >= 1, got {score_stride}')
    counts = cv2.calcHist([semantic], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    # A class with fewer pixels in all than the minimum area cannot have one large region.
    classes = np.flatnonzero(_IS_THING & (counts * pixel_area >= min_area_px))
    if classes.size == 0:
        return PanopticResult(semantic=semantic, instance_map=instance_map)
    wanted = np.zeros((256, 1), dtype=np.uint8)
    wanted[classes] = 1
    thing_mask = cv2.LUT(semantic, wanted)
    found = []  # (class_id, first pixel index, x, y, area, window mask)
    for x, y, in_blob in _components(thing_mask, 0, 0, pixel_area, min_area_px):
        area = int(np.count_nonzero(in_blob))
        if area * pixel_area < min_area_px:
            continue
        h, w = in_blob.shape
        window_classes = semantic[y:y + h, x:x + w]
        low, high, _, _ = cv2.minMaxLoc(window_classes, in_blob.view(np.uint8))
        if low == high:
            found.append(_component(int(low), x, y, area, in_blob, width))
            continue
        for class_id in np.unique(window_classes[in_blob]):
            mask = (in_blob & (window_classes == class_id)).view(np.uint8)
            for sx, sy, window in _components(mask, x, y, pixel_area, min_area_px):
                sub_area = int(np.count_nonzero(window))
                if sub_area * pixel_area >= min_area_px:
                    found.append(_component(int(class_id), sx, sy, sub_area, window, width))
    found.sort(key=lambda item: (item[0], item[1]))
    if scores is not None and score_stride > 1 and found:
        # Each pixel's score, as (h, w): nearest-neighbour with an integer factor repeats.
        rows, cols = scores.shape
        scores = cv2.resize(scores, (cols * score_stride, rows * score_stride),
                            interpolation=cv2.INTER_NEAREST)[:height, :width]
    segments: List[Segment] = []
    for class_id, _, x, y, area, window in found:
        h, w = window.shape
        segment_id = len(segments) + 1
        np.copyto(instance_map[y:y + h, x:x + w], segment_id, where=window)
        score = 1.0 if scores is None else float(scores[y:y + h, x:x + w][window].mean())
        segments.append(Segment(
            segment_id=segment_id,
            class_id=class_id,
            score=score,
            bbox=(x * scale_x, y * scale_y, (x + w) * scale_x, (y + h) * scale_y),
            area=float(area * pixel_area),
        ))
    return PanopticResult(semantic=semantic, instance_map=instance_map, segments=tuple(segments))


def _components(mask: np.ndarray, x0: int, y0: int, pixel_area: float, min_area_px: float):
    """Yield (x, y, window) per 8-connected component of a uint8 0/1 mask that may be large.

    ``window`` is the (h, w) bool mask of the component inside its box at (x, y), offset by
    (x0, y0). A component whose box holds fewer than ``min_area_px / pixel_area`` pixels is
    skipped without looking at it. Labelling without OpenCV's statistics and taking the boxes
    from ``scipy.ndimage.find_objects`` is several times faster than
    ``connectedComponentsWithStats`` here (0.4 + 1.0 ms against 7-12 ms at 1024x512).
    """
    rows = np.flatnonzero(mask.any(axis=1))  # numpy: 0.03 ms here, cv2.reduce 3.7 ms
    if rows.size == 0:
        return
    cols = np.flatnonzero(mask.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    cropped = np.ascontiguousarray(mask[top:rows[-1] + 1, left:cols[-1] + 1])
    count, labels = cv2.connectedComponents(cropped, connectivity=8, ltype=cv2.CV_32S)
    for label, box in enumerate(ndimage.find_objects(labels, count - 1), start=1):
        if box is None:
            continue
        ys, xs = box
        if (ys.stop - ys.start) * (xs.stop - xs.start) * pixel_area < min_area_px:
            continue
        yield x0 + left + xs.start, y0 + top + ys.start, labels[ys, xs] == label


def _component(class_id: int, x: int, y: int, area: int, window: np.ndarray,
               width: int) -> tuple:
    """Describe one component; its first pixel (raster index) orders it within its class."""
    first_x = x + int(np.argmax(window[0]))
    return (class_id, y * width + first_x, x, y, area, window)
