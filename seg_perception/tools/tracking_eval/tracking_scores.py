"""Scores of tracker outputs against ground truth, computed by trackeval (HOTA, CLEAR, Identity).

Sequences are combined as trackeval combines them (``combine_sequences``: HOTA from the summed
TP / FN / FP and association sums, IDF1 from the summed IDTP / IDFP / IDFN, IDSW summed). Per-class
figures score only the ground truth and the tracked boxes of that class (a tracked box's class is
that of the detection it reported); the class average combines the classes as trackeval's
``combine_classes_class_averaged`` does.
"""

import contextlib
import io
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from seg_perception import taxonomy
from seg_perception.tools.tracking_eval.ground_truth import SequenceGT
from seg_perception.tools.tracking_eval.peer_trackers import TrackerOutput
from seg_perception.tracking.association import iou_matrix

#: Classes scored separately: KITTI's evaluated name -> canonical class names it covers
#: (Car covers KITTI's Car and Van, both read as ``car``).
SCORED_CLASSES: Dict[str, Tuple[str, ...]] = {
    'Car': ('car',), 'Pedestrian': ('person',), 'Cyclist': ('rider',),
}
#: Figures where lower is better (the others: higher is better).
LOWER_IS_BETTER = frozenset({'IDSW', 'FP', 'FN'})


def class_ids(names: Sequence[str]) -> np.ndarray:
    """Return the canonical class ids of canonical class names, (n,) int64."""
    return np.array([taxonomy.class_id(name) for name in names], dtype=np.int64)


def trackeval_data(gt: SequenceGT, outputs: Sequence[TrackerOutput],
                   classes: Optional[np.ndarray] = None) -> dict:
    """Build the per-sequence input of trackeval's metrics (similarity = box IoU).

    Args:
        gt: the sequence's ground truth.
        outputs: one ``TrackerOutput`` per frame.
        classes: canonical class ids to score (ground truth and tracked boxes of other classes
            are left out); None scores every box (class-agnostic).

    Returns:
        the dict trackeval's ``HOTA``, ``CLEAR`` and ``Identity`` ``eval_sequence`` take.

    """
    if len(outputs) != gt.num_frames:
        raise ValueError(f'{len(outputs)} tracker frames for {gt.num_frames} frames')
    if classes is not None:
        if any(o.classes is None for o in outputs):
            raise ValueError('per-class scoring needs the class of every tracked box')
        keep_gt = np.isin(gt.classes, classes)
        outputs = [_select(o, np.isin(o.classes, classes)) for o in outputs]
    else:
        keep_gt = np.ones(gt.frames.shape[0], dtype=bool)
    frames, track_ids, boxes = gt.frames[keep_gt], gt.track_ids[keep_gt], gt.boxes[keep_gt]
    gt_lookup = {v: i for i, v in enumerate(np.unique(track_ids).tolist())}
    all_ids = np.concatenate([o.ids for o in outputs]) if outputs else np.zeros(0, np.int64)
    trk_lookup = {v: i for i, v in enumerate(np.unique(all_ids).tolist())}
    order = np.argsort(frames, kind='stable')
    starts = np.searchsorted(frames[order], np.arange(gt.num_frames + 1))
    gt_ids, trk_ids, similarity = [], [], []
    for frame, output in enumerate(outputs):
        rows = order[starts[frame]:starts[frame + 1]]
        gt_ids.append(np.array([gt_lookup[v] for v in track_ids[rows].tolist()], dtype=int))
        trk_ids.append(np.array([trk_lookup[v] for v in output.ids.tolist()], dtype=int))
        similarity.append(iou_matrix(boxes[rows], output.boxes))
    return {
        'num_timesteps': gt.num_frames, 'num_gt_ids': len(gt_lookup),
        'num_tracker_ids': len(trk_lookup), 'num_gt_dets': int(frames.shape[0]),
        'num_tracker_dets': int(all_ids.shape[0]), 'gt_ids': gt_ids, 'tracker_ids': trk_ids,
        'similarity_scores': similarity,
    }


def _select(output: TrackerOutput, keep: np.ndarray) -> TrackerOutput:
    return TrackerOutput(boxes=output.boxes[keep], ids=output.ids[keep],
                         classes=output.classes[keep])


def _metrics():
    """Return trackeval's HOTA, CLEAR and Identity metrics (IDF1 and MOTA at IoU 0.5)."""
    # trackeval's package import prints about optional dataset readers whose dependencies
    # (pycocotools, ...) the metrics do not need; keep that off our stdout.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError as error:
        raise ImportError(
            f'evaluate tracking scores with trackeval ({error}); install it with '
            '"pip install --no-deps trackeval==1.3.0" (it only needs numpy and scipy)') from error
    return (HOTA(), CLEAR({'THRESHOLD': 0.5, 'PRINT_CONFIG': False}),
            Identity({'THRESHOLD': 0.5, 'PRINT_CONFIG': False}))


def _summary(combined: dict, num_tracker_ids: int) -> Dict[str, float]:
    return {
        'HOTA': 100.0 * float(np.mean(combined['HOTA'])),
        'DetA': 100.0 * float(np.mean(combined['DetA'])),
        'AssA': 100.0 * float(np.mean(combined['AssA'])),
        'IDF1': 100.0 * float(combined['IDF1']),
        'MOTA': 100.0 * float(combined['MOTA']),
        'IDSW': int(combined['IDSW']),
        'FP': int(combined['CLR_FP']),
        'FN': int(combined['CLR_FN']),
        'IDs': int(num_tracker_ids),
    }


def sequence_results(data: dict) -> Dict[str, dict]:
    """Evaluate one sequence with each metric (the costly part; combine the results after).

    Args:
        data: ``trackeval_data`` of the sequence.

    Returns:
        metric name (``HOTA``, ``CLEAR``, ``Identity``) -> its ``eval_sequence`` result, plus
        ``'num_tracker_ids'`` and ``'num_gt_dets'`` (ints).

    """
    out = {type(metric).__name__: metric.eval_sequence(data) for metric in _metrics()}
    out['num_tracker_ids'] = data['num_tracker_ids']
    out['num_gt_dets'] = data['num_gt_dets']
    return out


def combine(results: Sequence[Dict[str, dict]]) -> Dict[str, float]:
    """Combine ``sequence_results`` of several sequences as trackeval does; see ``score``."""
    combined = {}
    for metric in _metrics():
        name = type(metric).__name__
        combined.update(metric.combine_sequences(
            {str(i): result[name] for i, result in enumerate(results)}))
    return _summary(combined, sum(result['num_tracker_ids'] for result in results))


def score(per_sequence: Sequence[dict]) -> Dict[str, float]:
    """Score sequences with trackeval and combine them (as trackeval combines sequences).

    Args:
        per_sequence: ``trackeval_data`` of each sequence.

    Returns:
        HOTA, DetA, AssA, IDF1, MOTA (percent), IDSW, FP, FN, IDs (number of tracker ids).

    """
    return combine([sequence_results(data) for data in per_sequence])


def score_classes(per_class: Mapping[str, Sequence[Dict[str, dict]]]
                  ) -> Dict[str, Dict[str, float]]:
    """Score each class over its sequences, and the class average, as trackeval does.

    Args:
        per_class: class name -> ``sequence_results`` of each sequence, restricted to the class.

    Returns:
        class name -> ``score``'s figures, plus ``'class_average'``: trackeval's
        ``combine_classes_class_averaged`` over the classes that have ground truth (HOTA, IDF1,
        MOTA averaged; IDSW, FP, FN summed).

    """
    out: Dict[str, Dict[str, float]] = {}
    combined_by_class: Dict[str, Dict[str, dict]] = {}
    for name, results in per_class.items():
        combined = {}
        for metric in _metrics():
            key = type(metric).__name__
            combined[key] = metric.combine_sequences(
                {str(i): result[key] for i, result in enumerate(results)})
        flat = {k: v for part in combined.values() for k, v in part.items()}
        out[name] = _summary(flat, sum(result['num_tracker_ids'] for result in results))
        if sum(result['num_gt_dets'] for result in results) > 0:
            combined_by_class[name] = combined
    if combined_by_class:
        average = {}
        for metric in _metrics():
            key = type(metric).__name__
            average.update(metric.combine_classes_class_averaged(
                {name: parts[key] for name, parts in combined_by_class.items()}))
        ids = sum(out[name]['IDs'] for name in combined_by_class)
        out['class_average'] = _summary(average, ids)
    return out


def best_of(scores_by_tracker: Mapping[str, Mapping[str, float]]) -> Dict[str, dict]:
    """Return, per figure, the best tracker and its value (``LOWER_IS_BETTER`` figures: least).

    Args:
        scores_by_tracker: tracker name -> figures (as ``score`` returns them).

    Returns:
        figure -> ``{'tracker': name, 'value': v}``; empty when no trackers.

    """
    best: Dict[str, dict] = {}
    for name, figures in scores_by_tracker.items():
        for figure, value in figures.items():
            if figure == 'IDs':
                continue
            if figure in best:
                current = best[figure]['value']
                better = value < current if figure in LOWER_IS_BETTER else value > current
                if not better:
                    continue
            best[figure] = {'tracker': name, 'value': value}
    return best
