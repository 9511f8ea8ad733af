"""Split the thing classes of a semantic map into instances by connected components.

Used by semantic-only backends (ESPNetv2): every 8-connected region of one thing class becomes one
instance. Touching objects of the same class merge into one instance; a real instance model does
better, and the tracker keeps ids stable across frames either way.

Speed: one multi-label pass of ``cc3d`` (connected-components-3d) labels the regions of every
thing class at once (pixels of two classes never join), inside the bounding box of all thing
pixels; areas, boxes, first pixels and scores then come from numpy over the thing pixels only,
with no Python per region but the ``Segment`` objects. Measured on ESPNetv2's 512x256 labels of
12 Cityscapes / CamVid / KITTI frames (2-core VM, three runs): 1.3-1.7 ms of process CPU time
and 1.2-1.7 ms wall per frame, against 3.9-4.3 ms and 1.4-2.1 ms for one OpenCV labelling of
all thing pixels plus a relabelling per class where classes touch, with the same instances.
"""

from typing import List, NamedTuple, Optional, Tuple

import cc3d
import cv2
import numpy as np

from seg_perception import taxonomy
from seg_perception.structures import PanopticResult, Segment

_IS_THING = taxonomy.thing_mask_table()
if _IS_THING[0]:  # the table below maps every other class to 0, the background
    raise ImportError('components: a thing class has canonical id 0')
#: (256, 1) uint8: a thing class's id at its own index, 0 elsewhere (a ``cv2.LUT`` table).
_THING_IDS_TABLE = np.where(_IS_THING, np.arange(256), 0).astype(np.uint8).reshape(256, 1)


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
        a ``PanopticResult`` at the working resolution: ``instance_map`` (h, w) int32 segment
        ids (0 = none), boxes in input-image pixels. Segments are ordered by class id, then by
        their first pixel in raster order.

    """
    if score_stride < 1:
        raise ValueError(f'score_stride must be >= 1, got {score_stride}')
    semantic = np.ascontiguousarray(semantic, dtype=np.uint8)
    height, width = semantic.shape
    scale_y = image_size[0] / height
    scale_x = image_size[1] / width
    pixel_area = scale_x * scale_y
    instance_map = np.zeros((height, width), dtype=np.int32)
    things = cv2.LUT(semantic, _THING_IDS_TABLE)
    bounds = nonzero_bounds(things)
    if bounds is None:
        return PanopticResult(semantic=semantic, instance_map=instance_map)
    top, bottom, left, right = bounds
    crop = things[top:bottom, left:right]
    crop_width = crop.shape[1]
    regions = label_regions(crop)
    count, areas, first, last = regions.count, regions.areas, regions.first, regions.last
    kept = np.flatnonzero(areas * pixel_area >= min_area_px)
    kept = kept[kept > 0]
    if kept.size == 0:
        return PanopticResult(semantic=semantic, instance_map=instance_map)
    first_pixel = first[kept]
    class_of = crop.ravel()[first_pixel]
    kept = kept[np.lexsort((first_pixel, class_of))]
    segment_of = np.zeros(count + 1, dtype=np.int32)
    segment_of[kept] = np.arange(1, kept.size + 1, dtype=np.int32)
    lookup(segment_of, regions.labels,
           out=instance_map[top:top + crop.shape[0], left:left + crop_width])
    if scores is None:
        mean_scores = np.ones(kept.size)
    else:
        # Each thing pixel's score, gathered at the score map's stride.
        pixel_rows = regions.rows + top
        pixel_cols = regions.columns + left
        pixel_scores = scores[pixel_rows // score_stride, pixel_cols // score_stride]
        sums = np.bincount(regions.inside_labels, weights=pixel_scores, minlength=count + 1)
        mean_scores = sums[kept] / areas[kept]
    segments: List[Segment] = []
    for index, label in enumerate(kept.tolist()):
        y0 = top + int(first[label]) // crop_width
        y1 = top + int(last[label]) // crop_width + 1
        x0 = left + int(regions.x_min[label])
        x1 = left + int(regions.x_max[label]) + 1
        segments.append(Segment(
            segment_id=index + 1,
            class_id=int(crop.flat[first[label]]),
            score=float(mean_scores[index]),
            bbox=(x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y),
            area=float(int(areas[label]) * pixel_area),
        ))
    return PanopticResult(semantic=semantic, instance_map=instance_map, segments=tuple(segments))


def nonzero_bounds(image: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """Return ``(top, bottom, left, right)`` of the box of ``image``'s non-zero pixels.

    Ends are exclusive; None when every pixel is 0. numpy's ``any`` per axis: 0.03 ms at
    1024x512 here, ``cv2.reduce`` 3.7 ms.
    """
    rows = np.flatnonzero(image.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(image.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def lookup(values: np.ndarray, ids: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """Return ``values[ids]`` for a (h, w) integer map of ids in [0, len(values)).

    Args:
        values: (n,) the value of each id.
        ids: (h, w) integer ids.
        out: (h, w) array (a strided window is fine) written into and returned; a new array
            of ``values``' dtype when None.

    """
    if values.shape[0] <= 256:  # nearly always: cv2.LUT on uint8 ids
        # 0.17 ms at 1024x512 here; numpy's take 0.37 ms, fancy indexing 0.85 ms.
        table = np.zeros(256, dtype=values.dtype)
        table[:values.shape[0]] = values
        looked_up = cv2.LUT(ids.astype(np.uint8), table)
        if out is None:
            return looked_up
        out[...] = looked_up
        return out
    if out is None:
        return np.take(values, ids)
    # mode='clip' writes straight into a strided ``out``; 'raise' would buffer a copy
    return np.take(values, ids, mode='clip', out=out)


class Regions(NamedTuple):
    """Connected regions of a label image and their statistics (see ``label_regions``).

    Per pixel of the image that is not 0, in raster order: ``inside`` (flat index),
    ``inside_labels`` (its region), ``rows`` and ``columns``. Per region label 0..count (0, the
    background, unused): ``areas`` (pixels), ``first`` / ``last`` (flat index of its first and
    last pixel in raster order: top and bottom row), ``x_min`` / ``x_max`` (columns, inclusive).
    """

    labels: np.ndarray
    count: int
    inside: np.ndarray
    inside_labels: np.ndarray
    rows: np.ndarray
    columns: np.ndarray
    areas: np.ndarray
    first: np.ndarray
    last: np.ndarray
    x_min: np.ndarray
    x_max: np.ndarray


def label_regions(image: np.ndarray) -> Regions:
    """Label the 8-connected regions of each value of ``image`` (0 = background) in one pass.

    Args:
        image: (h, w) uint8; two pixels join when they are 8-neighbours of the same value, so
            regions of two classes never join (``cc3d``'s multi-label labelling).

    Returns:
        the labels ((h, w) uint16, or uint32 where cc3d's bound on the count needs it) and the
        statistics of ``Regions``, from numpy over the non-zero pixels only.

    """
    labels, count = cc3d.connected_components(image, connectivity=8, return_N=True)
    width = image.shape[1]
    inside = np.flatnonzero(image != 0)  # numpy's nonzero is 4x faster on bool than uint8
    inside_labels = labels.ravel()[inside]
    rows = inside // width
    columns = inside - rows * width
    first = np.zeros(count + 1, dtype=np.intp)
    first[inside_labels[::-1]] = inside[::-1]  # of repeated indices, the last write stays
    last = np.zeros(count + 1, dtype=np.intp)
    last[inside_labels] = inside
    x_min = np.full(count + 1, width, dtype=np.intp)
    x_max = np.zeros(count + 1, dtype=np.intp)
    np.minimum.at(x_min, inside_labels, columns)
    np.maximum.at(x_max, inside_labels, columns)
    return Regions(labels=labels, count=int(count), inside=inside,
                   inside_labels=inside_labels, rows=rows, columns=columns,
                   areas=np.bincount(inside_labels, minlength=count + 1), first=first,
                   last=last, x_min=x_min, x_max=x_max)
