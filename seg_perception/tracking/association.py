"""Similarity between tracks and detections, and the one-to-one assignment between them.

Box IoU is the default similarity; mask IoU (on cropped masks, so a frame-sized array is never
built per instance) is an optional hook the tracker blends in when masks are given.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy.ndimage import find_objects
from scipy.optimize import linear_sum_assignment


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Compute the intersection over union of every pair of boxes.

    Args:
        boxes_a: (N, 4) ``x_min, y_min, x_max, y_max`` pixels.
        boxes_b: (M, 4) same format.

    Returns:
        (N, M) float64 in [0, 1]; 0 for pairs whose union is empty.

    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    return _iou(a.T.copy(), b.T.copy(), None)


def buffered_iou_matrix(boxes_a: np.ndarray, margins_a: np.ndarray,
                        boxes_b: np.ndarray) -> np.ndarray:
    """Compute IoU after growing both boxes of each pair by the first box's margins (buffered IoU).

    Growing both boxes of a pair by the same margin lets boxes that moved further than their
    size still overlap, while keeping the similarity symmetric in size.

    Args:
        boxes_a: (N, 4) ``x_min, y_min, x_max, y_max`` pixels (e.g. predicted tracks).
        margins_a: (N, 2) ``(mx, my)`` pixels added on each side, per box of ``boxes_a``.
        boxes_b: (M, 4) pixels (e.g. detections).

    Returns:
        (N, M) float64 in [0, 1].

    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    margins = np.asarray(margins_a, dtype=np.float64).reshape(-1, 2)
    if margins.shape[0] != a.shape[0]:
        raise ValueError(f'{margins.shape[0]} margins for {a.shape[0]} boxes')
    return _iou(a.T.copy(), b.T.copy(), margins.T.copy())


def _iou(a: np.ndarray, b: np.ndarray, margins: Optional[np.ndarray]) -> np.ndarray:
    """Compute the IoU of all pairs, both boxes of pair (i, j) grown by box i's margins.

    Args:
        a: (4, N) box coordinates as rows (contiguous rows keep the pair-wise operations fast).
        b: (4, M) same.
        margins: None, or (2, N) ``mx, my`` pixels added on each side, per box of ``a``.

    Returns:
        (N, M) float64; negative sizes count as empty; 0 / 0 gives 0.

    """
    w = np.minimum(a[2][:, None], b[2]) - np.maximum(a[0][:, None], b[0])
    h = np.minimum(a[3][:, None], b[3]) - np.maximum(a[1][:, None], b[1])
    size_a = np.maximum(a[2:] - a[:2], 0.0)
    size_b = np.maximum(b[2:] - b[:2], 0.0)
    if margins is None:
        union = (size_a[0] * size_a[1])[:, None] + size_b[0] * size_b[1]
    else:
        # The same margin on both boxes adds 2 m to the overlap and to both sizes.
        grow_x, grow_y = 2.0 * margins[0][:, None], 2.0 * margins[1][:, None]
        w += grow_x
        h += grow_y
        union = ((size_a[0][:, None] + grow_x) * (size_a[1][:, None] + grow_y)
                 + (size_b[0] + grow_x) * (size_b[1] + grow_y))
    np.maximum(w, 0.0, out=w)
    np.maximum(h, 0.0, out=h)
    inter = w * h
    union -= inter
    union += 1e-12
    return inter / union


@dataclass(frozen=True)
class MaskCrop:
    """An instance mask stored as its bounding crop.

    Attributes:
        x0: column of ``mask[:, 0]`` in the mask grid, pixels.
        y0: row of ``mask[0, :]`` in the mask grid, pixels.
        mask: (h, w) bool.

    Masks compared with each other must share one grid (e.g. the segmenter's working
    resolution); it need not be the input image's.

    """

    x0: int
    y0: int
    mask: np.ndarray

    @property
    def area(self) -> int:
        """Number of mask pixels."""
        return int(np.count_nonzero(self.mask))


def crops_from_instance_map(instance_map: np.ndarray,
                            segment_ids: Sequence[int]) -> List[Optional[MaskCrop]]:
    """Cut one ``MaskCrop`` per segment out of an instance map in a single pass.

    Args:
        instance_map: (h, w) integer map, 0 = none, k = segment k.
        segment_ids: the ids wanted (>= 1).

    Returns:
        one crop per id, None for ids absent from the map.

    """
    slices = find_objects(np.asarray(instance_map))
    crops: List[Optional[MaskCrop]] = []
    for segment_id in segment_ids:
        if segment_id < 1 or segment_id > len(slices) or slices[segment_id - 1] is None:
            crops.append(None)
            continue
        rows, cols = slices[segment_id - 1]
        crops.append(MaskCrop(x0=cols.start, y0=rows.start,
                              mask=instance_map[rows, cols] == segment_id))
    return crops


def mask_iou(a: MaskCrop, b: MaskCrop) -> float:
    """Return the IoU of two cropped masks of the same grid, in [0, 1]."""
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1 = min(a.x0 + a.mask.shape[1], b.x0 + b.mask.shape[1])
    y1 = min(a.y0 + a.mask.shape[0], b.y0 + b.mask.shape[0])
    inter = 0
    if x1 > x0 and y1 > y0:
        part_a = a.mask[y0 - a.y0:y1 - a.y0, x0 - a.x0:x1 - a.x0]
        part_b = b.mask[y0 - b.y0:y1 - b.y0, x0 - b.x0:x1 - b.x0]
        inter = int(np.count_nonzero(part_a & part_b))
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def mask_iou_matrix(masks_a: Sequence[Optional[MaskCrop]],
                    masks_b: Sequence[Optional[MaskCrop]],
                    candidates: Optional[np.ndarray] = None) -> np.ndarray:
    """Compute the mask IoU of pairs of cropped masks.

    Args:
        masks_a: N crops (None = unknown mask).
        masks_b: M crops.
        candidates: optional (N, M) bool; only these pairs are computed (the others are 0),
            e.g. the pairs whose boxes overlap.

    Returns:
        (N, M) float64 in [0, 1]; NaN where either mask is None (caller falls back to boxes).

    """
    out = np.zeros((len(masks_a), len(masks_b)))
    for i, a in enumerate(masks_a):
        for j, b in enumerate(masks_b):
            if a is None or b is None:
                out[i, j] = np.nan
            elif candidates is None or candidates[i, j]:
                out[i, j] = mask_iou(a, b)
    return out


def gate_by_class(similarity: np.ndarray, track_classes: np.ndarray,
                  detection_classes: np.ndarray) -> np.ndarray:
    """Zero the similarity of pairs whose classes differ.

    Args:
        similarity: (N, M) float.
        track_classes: (N,) int canonical class ids.
        detection_classes: (M,) int canonical class ids.

    Returns:
        (N, M) float64, a copy.

    """
    return similarity * (track_classes[:, None] == detection_classes[None, :])


def assign(similarity: np.ndarray, min_similarity: float) -> Tuple[np.ndarray, ...]:
    """One-to-one assignment that maximizes total similarity among pairs above a threshold.

    Args:
        similarity: (N, M) float, higher is better (e.g. IoU).
        min_similarity: pairs below it are never matched.

    Returns:
        ``(rows, cols, unmatched_rows, unmatched_cols)``, int64 index arrays; ``rows[k]`` is
        matched to ``cols[k]``.

    """
    n, m = similarity.shape
    if n == 0 or m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.arange(n, dtype=np.int64), np.arange(m, dtype=np.int64)
    allowed = similarity >= min_similarity
    # Forbidden pairs cost more than any set of allowed pairs gains, so the solver first
    # maximizes the number of allowed pairs, then their similarity; forbidden ones are dropped.
    cost = np.where(allowed, -similarity, float(min(n, m)) + 1.0)
    rows, cols = linear_sum_assignment(cost)
    keep = allowed[rows, cols]
    rows, cols = rows[keep], cols[keep]
    unmatched_rows = np.ones(n, dtype=bool)
    unmatched_rows[rows] = False
    unmatched_cols = np.ones(m, dtype=bool)
    unmatched_cols[cols] = False
    return rows, cols, unmatched_rows.nonzero()[0], unmatched_cols.nonzero()[0]
