"""Lane benchmarks' metrics and ground truth: TuSimple accuracy / FP / FN, CULane F1, id stability.

TuSimple (the benchmark's ``LaneEval``, re-implemented): a lane is x at fixed rows
(``h_samples``; -2 = absent). A predicted lane matches a ground-truth lane when at least 85 % of
the rows agree within 20 px (at 1280 wide; scaled with the image width) divided by the cosine of
the ground-truth lane's angle, a row where both are absent agreeing too. Per frame: accuracy =
mean over ground-truth lanes of the best prediction's agreement, FP = unmatched predictions /
predictions, FN = unmatched ground truth / ground truth; with more than 4 ground-truth lanes the
worst lane is dropped (as the benchmark does). Ground-truth lanes absent on every row are
ignored. The reported numbers are means over frames.

CULane (the benchmark's rule): every lane is drawn as a 30 px wide polyline on a 1640x590
canvas (coordinates scaled from the image size); a prediction and a ground-truth lane match
when their IoU is >= 0.5, one-to-one (Hungarian on IoU); precision, recall and F1 over all
frames. The official tool draws a cubic spline through the points; CULane ground truth has a
point every 10 rows, where a polyline is the same to within a pixel or so.
"""

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

#: A lane as an (N, 2) float64 array of (x, y) pixels.
Polyline = np.ndarray

CULANE_SIZE = (1640, 590)
CULANE_WIDTH_PX = 30
CULANE_IOU = 0.5
TUSIMPLE_PIXEL_THRESHOLD = 20.0
TUSIMPLE_REFERENCE_WIDTH = 1280.0
TUSIMPLE_POINT_THRESHOLD = 0.85


@dataclass(frozen=True)
class TuSimpleFrame:
    """One TuSimple ground-truth frame: ``lanes`` (L, R) x per row, -2 = absent."""

    raw_file: str
    h_samples: np.ndarray
    lanes: np.ndarray


def read_tusimple(gt: Path) -> List[TuSimpleFrame]:
    """Read TuSimple json-lines files (``gt`` a file or a folder of ``*.json``)."""
    files = sorted(Path(gt).glob('*.json')) if Path(gt).is_dir() else [Path(gt)]
    frames = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                frames.append(TuSimpleFrame(
                    raw_file=entry['raw_file'],
                    h_samples=np.asarray(entry['h_samples'], dtype=np.float64),
                    lanes=np.asarray(entry['lanes'], dtype=np.float64).reshape(
                        -1, len(entry['h_samples']))))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f'{path}:{number}: not a TuSimple label line ({error})') \
                    from error
    if not frames:
        raise ValueError(f'no TuSimple labels in {gt}')
    return frames


def read_culane_lines(path: Path) -> List[Polyline]:
    """Read a CULane ``.lines.txt``: one lane per line, ``x1 y1 x2 y2 ...``."""
    lanes = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        values = line.split()
        if not values:
            continue
        if len(values) % 2:
            raise ValueError(f'{path}:{number}: odd number of coordinates')
        points = np.asarray(values, dtype=np.float64).reshape(-1, 2)
        if points.shape[0] >= 2:
            lanes.append(points)
    return lanes


def sample_rows(polyline: Polyline, rows: np.ndarray) -> np.ndarray:
    """Return x of a polyline at ``rows`` (linear between its points), -2 outside its rows."""
    points = polyline[np.argsort(polyline[:, 1])]
    xs = np.interp(rows, points[:, 1], points[:, 0])
    outside = (rows < points[0, 1]) | (rows > points[-1, 1])
    return np.where(outside, -2.0, xs)


def _angle(xs: np.ndarray, rows: np.ndarray) -> float:
    """Angle of a lane from the vertical, rad: arctan of its dx / dy (least squares)."""
    valid = xs >= 0
    if valid.sum() < 2:
        return 0.0
    slope = np.polyfit(rows[valid], xs[valid], 1)[0]
    return float(np.arctan(slope))


def _line_accuracy(pred: np.ndarray, gt: np.ndarray, threshold: float) -> float:
    pred = np.where(pred >= 0, pred, -100.0)
    gt = np.where(gt >= 0, gt, -100.0)
    return float(np.mean(np.abs(pred - gt) < threshold))


def tusimple_frame(pred: Sequence[np.ndarray], gt: np.ndarray, rows: np.ndarray,
                   width: float) -> Tuple[float, float, float]:
    """Return (accuracy, FP rate, FN rate) of one frame (x per row arrays, -2 = absent)."""
    gt = [lane for lane in gt if (lane >= 0).any()]
    if not gt:
        return 1.0, (1.0 if pred else 0.0), 0.0
    threshold = TUSIMPLE_PIXEL_THRESHOLD * width / TUSIMPLE_REFERENCE_WIDTH
    accuracies, matched, fn = [], 0, 0.0
    for lane in gt:
        limit = threshold / np.cos(_angle(lane, rows))
        best = max((_line_accuracy(p, lane, limit) for p in pred), default=0.0)
        if best < TUSIMPLE_POINT_THRESHOLD:
            fn += 1
        else:
            matched += 1
        accuracies.append(best)
    fp = len(pred) - matched
    if len(gt) > 4 and fn > 0:
        fn -= 1
    total = sum(accuracies)
    if len(gt) > 4:
        total -= min(accuracies)
    count = max(min(4.0, len(gt)), 1.0)
    return total / count, (fp / len(pred) if pred else 0.0), fn / max(min(len(gt), 4.0), 1.0)


def _culane_mask(polyline: Polyline, scale: Tuple[float, float]) -> np.ndarray:
    canvas = np.zeros((CULANE_SIZE[1], CULANE_SIZE[0]), dtype=np.uint8)
    points = np.round(polyline * np.asarray(scale)).astype(np.int32)
    cv2.polylines(canvas, [points.reshape(-1, 1, 2)], False, 1, CULANE_WIDTH_PX)
    return canvas.astype(bool)


def culane_frame(pred: Sequence[Polyline], gt: Sequence[Polyline],
                 image_size: Tuple[int, int]) -> Tuple[int, int, int, List[Tuple[int, int]]]:
    """Return (TP, FP, FN, matched (pred index, gt index) pairs) of one frame.

    Args:
        pred, gt: polylines in image pixels.
        image_size: (height, width) of the image (scaled to 1640x590 for drawing).

    """
    scale = (CULANE_SIZE[0] / image_size[1], CULANE_SIZE[1] / image_size[0])
    pairs: List[Tuple[int, int]] = []
    if pred and gt:
        pred_masks = [_culane_mask(p, scale) for p in pred]
        gt_masks = [_culane_mask(g, scale) for g in gt]
        iou = np.zeros((len(pred), len(gt)))
        for i, p in enumerate(pred_masks):
            for j, g in enumerate(gt_masks):
                union = np.logical_or(p, g).sum()
                iou[i, j] = np.logical_and(p, g).sum() / union if union else 0.0
        rows, cols = linear_sum_assignment(-iou)
        pairs = [(int(i), int(j)) for i, j in zip(rows, cols) if iou[i, j] >= CULANE_IOU]
    tp = len(pairs)
    return tp, len(pred) - tp, len(gt) - tp, pairs


def f1_scores(tp: int, fp: int, fn: int) -> Dict[str, float]:
    """Return precision, recall and F1 (0 where undefined)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {'precision': precision, 'recall': recall, 'f1': f1}


class IdStability:
    """Counts whether a ground-truth lane keeps the id of its matched prediction between frames.

    Ground-truth lanes of consecutive frames of one sequence are paired by their x at the lower
    rows both share (Hungarian, gated at ``gate`` of the image width); a pair whose lanes were
    both matched to predictions counts as kept when the two predictions have the same lane id.
    """

    def __init__(self, gate: float = 0.08):
        self.gate = gate
        self.kept = 0
        self.switched = 0
        self._previous: Optional[Tuple[List[Polyline], Dict[int, int], float]] = None

    def reset(self) -> None:
        """Start a new sequence."""
        self._previous = None

    def update(self, gt: Sequence[Polyline], gt_to_id: Dict[int, int], height: float,
               width: float) -> None:
        """Add one frame: its ground-truth lanes and the lane id matched to each (by index)."""
        previous, self._previous = self._previous, (list(gt), dict(gt_to_id), width)
        if previous is None or not gt or not previous[0]:
            return
        rows = np.linspace(0.6 * height, height, 9)
        before = [sample_rows(lane, rows) for lane in previous[0]]
        now = [sample_rows(lane, rows) for lane in gt]
        cost = np.full((len(before), len(now)), 1e6)
        for i, a in enumerate(before):
            for j, b in enumerate(now):
                both = (a >= 0) & (b >= 0)
                if both.any():
                    cost[i, j] = float(np.mean(np.abs(a[both] - b[both]))) / width
        for i, j in zip(*linear_sum_assignment(cost)):
            if cost[i, j] > self.gate or i not in previous[1] or j not in gt_to_id:
                continue
            if previous[1][i] == gt_to_id[j]:
                self.kept += 1
            else:
                self.switched += 1

    def summary(self) -> Optional[Dict[str, float]]:
        """Return kept / switched counts and the kept fraction; None with no pairs."""
        pairs = self.kept + self.switched
        if not pairs:
            return None
        return {'pairs': pairs, 'kept': self.kept, 'switched': self.switched,
                'stability': self.kept / pairs}
