"""Noisy, id-free detections made from tracking ground truth with a seeded noise model.

Box edges are jittered, boxes missed (more often when largely occluded), false boxes added, and
scores drawn so that false boxes tend to score lower; the ground-truth ids are never given to the
trackers.
"""

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from seg_perception.structures import Segment
from seg_perception.tools.tracking_eval.ground_truth import SequenceGT


@dataclass(frozen=True)
class NoiseConfig:
    """How detections are made from ground truth (defaults: the issue's default noise).

    Attributes:
        edge_jitter: std of each box edge's shift, as a fraction of the box width (x edges) or
            height (y edges).
        miss_rate: probability that a box is not detected.
        miss_rate_occluded: the same for largely occluded boxes.
        false_per_frame: mean of the Poisson number of false boxes per frame.
        true_score: (low, high) of the uniform score of detected true boxes.
        false_score: (low, high) of the uniform score of false boxes.

    """

    edge_jitter: float = 0.05
    miss_rate: float = 0.10
    miss_rate_occluded: float = 0.40
    false_per_frame: float = 1.0
    true_score: Tuple[float, float] = (0.5, 1.0)
    false_score: Tuple[float, float] = (0.1, 0.6)

    def __post_init__(self):
        for name in ('miss_rate', 'miss_rate_occluded'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'NoiseConfig.{name} must be in [0, 1]')
        if self.edge_jitter < 0.0 or self.false_per_frame < 0.0:
            raise ValueError('NoiseConfig.edge_jitter and false_per_frame must be >= 0')
        for name in ('true_score', 'false_score'):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(f'NoiseConfig.{name} must be (low, high) in [0, 1]')

    @classmethod
    def perfect(cls) -> 'NoiseConfig':
        """Return a noise model whose detections are the ground truth, all with score 1."""
        return cls(edge_jitter=0.0, miss_rate=0.0, miss_rate_occluded=0.0, false_per_frame=0.0,
                   true_score=(1.0, 1.0))


@dataclass(frozen=True)
class FrameDetections:
    """Detections of one frame.

    Attributes:
        boxes: (n, 4) float64 ``x_min, y_min, x_max, y_max`` pixels.
        scores: (n,) float64 in [0, 1].
        classes: (n,) int64 canonical class ids.
        gt_rows: (n,) int64 row of ``SequenceGT`` each box was made from, -1 for false boxes
            (for checks of the noise model only; never given to a tracker).

    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    gt_rows: np.ndarray


def make_detections(gt: SequenceGT, noise: NoiseConfig,
                    rng: np.random.Generator) -> List[FrameDetections]:
    """Turn ground truth into noisy, id-free detections, one entry per frame.

    Args:
        gt: the sequence.
        noise: the noise model.
        rng: source of randomness (seed it for repeatable runs).

    Returns:
        ``gt.num_frames`` entries; true boxes first in each, then false ones.

    """
    count = gt.frames.shape[0]
    miss_p = np.where(gt.occluded, noise.miss_rate_occluded, noise.miss_rate)
    detected = rng.random(count) >= miss_p
    size = gt.boxes[:, 2:] - gt.boxes[:, :2]
    sigma = noise.edge_jitter * np.concatenate((size, size), axis=1)
    boxes = gt.boxes + rng.standard_normal((count, 4)) * sigma
    if noise.edge_jitter > 0.0:
        boxes = _ordered(boxes)
    scores = rng.uniform(*noise.true_score, size=count)
    width, height = gt.image_size
    out = []
    order = np.argsort(gt.frames, kind='stable')
    starts = np.searchsorted(gt.frames[order], np.arange(gt.num_frames + 1))
    for frame in range(gt.num_frames):
        rows = order[starts[frame]:starts[frame + 1]]
        rows = rows[detected[rows]]
        false = rng.poisson(noise.false_per_frame) if count else 0
        # A false box copies the size and class of a random labelled box of the sequence.
        source = rng.integers(0, max(count, 1), size=false)
        false_size = np.minimum(size[source], (width, height))
        corner = rng.random((false, 2)) * np.maximum((width, height) - false_size, 0.0)
        false_boxes = np.concatenate((corner, corner + false_size), axis=1)
        out.append(FrameDetections(
            boxes=np.concatenate((boxes[rows], false_boxes)),
            scores=np.concatenate((scores[rows], rng.uniform(*noise.false_score, size=false))),
            classes=np.concatenate((gt.classes[rows], gt.classes[source])).astype(np.int64),
            gt_rows=np.concatenate((rows, np.full(false, -1))).astype(np.int64)))
    return out


def _ordered(boxes: np.ndarray, min_size: float = 1.0) -> np.ndarray:
    """Sort each box's edges and give it at least ``min_size`` pixels of width and height."""
    lo = np.minimum(boxes[:, :2], boxes[:, 2:])
    hi = np.maximum(np.maximum(boxes[:, :2], boxes[:, 2:]), lo + min_size)
    return np.concatenate((lo, hi), axis=1)


def to_segments(detections: FrameDetections) -> Tuple[Segment, ...]:
    """Wrap one frame's detections as ``Segment``s (segment ids 1..n)."""
    return tuple(
        Segment(segment_id=i + 1, class_id=int(c), score=float(s),
                bbox=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                area=float((b[2] - b[0]) * (b[3] - b[1])))
        for i, (b, s, c) in enumerate(zip(detections.boxes, detections.scores,
                                          detections.classes)))
