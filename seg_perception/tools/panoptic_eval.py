"""Panoptic quality (PQ, SQ, RQ) of predictions against Cityscapes ground truth.

Ground truth: ``*_gtFine_instanceIds.png`` (searched recursively). A value >= 1000 is
``labelId * 1000 + instance index``, a value < 1000 a bare labelId: one stuff segment per class,
or for a thing class a crowd region (thing pixels without an instance). Label ids outside the
19 evaluated Cityscapes classes (caravan and trailer instances too) are void.

Predictions: one folder holding, per frame, ``<stem>.png`` (canonical class ids, as the
``semantic`` output) and ``<stem>_instances.png`` (uint16 instance ids, as the ``instances``
output, 0 = none). ``<stem>`` starts with the frame's ``city_sequence_frame`` prefix. A frame
with no ``_instances.png`` is scored as if every instance id were 0.

Segments follow the Cityscapes panoptic benchmark: the things are person, rider, car, truck, bus,
train, motorcycle and bicycle; every other of the 19 classes (traffic lights and signs included)
is stuff, so all predicted pixels of such a class form one segment whatever their instance ids.
A predicted thing segment is one (class, instance id) pair with instance id > 0; thing pixels
with instance id 0, unlabeled pixels and classes outside the 19 belong to no segment.

Matching is the standard one (Kirillov et al., panopticapi): a predicted and a ground-truth
segment of the same class match when their IoU > 0.5, where the predicted segment's pixels on
ground-truth void are left out of the union; crowd regions are never matched. An unmatched
predicted segment is not a false positive when more than half of its pixels lie on void or on a
crowd region of its class. Counts are summed over all frames; PQ = sum IoU / (TP + FP/2 + FN/2),
SQ = sum IoU / TP, RQ = TP / (TP + FP/2 + FN/2). Averages are over classes with TP + FP + FN > 0.
"""

import argparse
from dataclasses import dataclass
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from seg_perception import label_sets, taxonomy
from seg_perception.tools.semantic_eval import fit_labels, read_label_image

CLASS_NAMES: Tuple[str, ...] = label_sets.CITYSCAPES_TRAIN_ID_NAMES
THING_NAMES: Tuple[str, ...] = ('person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
                                'bicycle')
IS_THING = np.array([name in THING_NAMES for name in CLASS_NAMES])
_VOID = len(CLASS_NAMES)


def _label_id_to_index() -> np.ndarray:
    """Return (1000,) int64: Cityscapes labelId -> evaluated class index; 19 = void."""
    table = np.full(1000, _VOID, dtype=np.int64)
    for label_id, name in label_sets.CITYSCAPES_LABEL_ID_NAMES.items():
        table[label_id] = CLASS_NAMES.index(name)
    return table


def _canonical_to_index() -> np.ndarray:
    """Return (256,) int64: canonical class id -> evaluated class index; 19 = none."""
    table = np.full(256, _VOID, dtype=np.int64)
    for index, name in enumerate(CLASS_NAMES):
        table[taxonomy.class_id(name)] = index
    return table


@dataclass
class PanopticCounts:
    """Matching counts per evaluated class (arrays of shape (19,)), summed over frames."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    iou_sum: np.ndarray
    frames: int = 0

    @classmethod
    def zeros(cls) -> 'PanopticCounts':
        """Return empty counts."""
        n = len(CLASS_NAMES)
        return cls(np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
                   np.zeros(n, np.float64), 0)

    def add(self, other: 'PanopticCounts') -> None:
        """Add another frame's (or set's) counts in place."""
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou_sum += other.iou_sum
        self.frames += other.frames

    def per_class(self) -> Dict[str, np.ndarray]:
        """Return pq, sq, rq per class, NaN where the class has no TP, FP nor FN."""
        denominator = self.tp + 0.5 * self.fp + 0.5 * self.fn
        with np.errstate(invalid='ignore', divide='ignore'):
            valid = denominator > 0
            pq = np.where(valid, self.iou_sum / denominator, np.nan)
            sq = np.where(self.tp > 0, self.iou_sum / self.tp, np.where(valid, 0.0, np.nan))
            rq = np.where(valid, self.tp / denominator, np.nan)
        return {'pq': pq, 'sq': sq, 'rq': rq}

    def averages(self) -> Dict[str, Dict[str, Optional[float]]]:
        """Return {'all'|'things'|'stuff': {'pq', 'sq', 'rq', 'classes'}}, means over classes."""
        metrics = self.per_class()
        valid = ~np.isnan(metrics['pq'])
        out = {}
        for group, members in (('all', np.ones_like(IS_THING)), ('things', IS_THING),
                               ('stuff', ~IS_THING)):
            chosen = valid & members
            entry: Dict[str, Optional[float]] = {
                key: (float(values[chosen].mean()) if chosen.any() else None)
                for key, values in metrics.items()}
            entry['classes'] = int(chosen.sum())
            out[group] = entry
        return out

    def as_dict(self) -> Dict:
        """JSON-ready summary."""
        metrics = self.per_class()
        per_class = {}
        for index, name in enumerate(CLASS_NAMES):
            if np.isnan(metrics['pq'][index]):
                continue
            per_class[name] = {key: float(values[index]) for key, values in metrics.items()}
            per_class[name].update(tp=int(self.tp[index]), fp=int(self.fp[index]),
                                   fn=int(self.fn[index]), is_thing=bool(IS_THING[index]))
        return {'frames': self.frames, **self.averages(), 'per_class': per_class}


def _gt_segments(instance_ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a gtFine_instanceIds map into segments.

    Returns:
        (H, W) int64 segment index map (0 = void), then per segment index (index 0 unused) its
        class index and whether it is a crowd region.

    """
    values = instance_ids.astype(np.int64)
    label_ids = np.where(values >= 1000, values // 1000, values)
    classes = _label_id_to_index()[label_ids]
    # A thing pixel without an instance index is crowd; stuff is one segment per class.
    key = np.where(values >= 1000, values, label_ids)
    key = np.where(classes == _VOID, -1, key)
    unique, segments = np.unique(key, return_inverse=True)
    segments = segments.reshape(values.shape)
    if unique.size and unique[0] == -1:
        unique = unique[1:]
    else:
        segments = segments + 1  # index 0 stays free for void
    seg_label_ids = np.where(unique >= 1000, unique // 1000, unique)
    seg_classes = np.concatenate([[_VOID], _label_id_to_index()[seg_label_ids]])
    crowd = np.concatenate([[False], (unique < 1000) & IS_THING[seg_classes[1:]]])
    return segments, seg_classes, crowd


def _pred_segments(semantic: np.ndarray,
                   instances: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Return a (H, W) int64 segment index map (0 = no segment) and each segment's class."""
    classes = _canonical_to_index()[semantic.astype(np.int64)]
    padded_thing = np.concatenate([IS_THING, [False]])
    thing = padded_thing[classes]
    inst = instances.astype(np.int64)
    # key: -1 none, class for stuff, (inst * 20 + class) + 20 for thing instances
    key = np.where(thing, inst * (_VOID + 1) + classes + (_VOID + 1), classes)
    key = np.where((classes == _VOID) | (thing & (inst == 0)), -1, key)
    unique, segments = np.unique(key, return_inverse=True)
    segments = segments.reshape(semantic.shape)
    if unique.size and unique[0] == -1:
        unique = unique[1:]
    else:
        segments = segments + 1
    seg_classes = np.concatenate([[_VOID], unique % (_VOID + 1)])
    return segments, seg_classes


def frame_counts(gt_instance_ids: np.ndarray, pred_semantic: np.ndarray,
                 pred_instances: Optional[np.ndarray] = None) -> PanopticCounts:
    """Match the segments of one frame.

    Args:
        gt_instance_ids: (H, W) Cityscapes gtFine_instanceIds values.
        pred_semantic: (H, W) canonical class ids.
        pred_instances: (H, W) instance ids (0 = none); None = all 0.

    """
    if pred_instances is None:
        pred_instances = np.zeros(pred_semantic.shape, np.int64)
    if not gt_instance_ids.shape == pred_semantic.shape == pred_instances.shape:
        raise ValueError(f'shapes differ: ground truth {gt_instance_ids.shape}, prediction '
                         f'{pred_semantic.shape} and {pred_instances.shape}')
    gt, gt_classes, crowd = _gt_segments(gt_instance_ids)
    pred, pred_classes = _pred_segments(pred_semantic, pred_instances)
    n_gt, n_pred = gt_classes.size, pred_classes.size
    overlap = np.bincount((gt * n_pred + pred).ravel(),
                          minlength=n_gt * n_pred).reshape(n_gt, n_pred)
    gt_area = overlap.sum(1)
    pred_area = overlap.sum(0)
    on_void = overlap[0]
    counts = PanopticCounts.zeros()
    counts.frames = 1
    gt_matched = np.zeros(n_gt, bool)
    pred_matched = np.zeros(n_pred, bool)
    for g, p in zip(*np.nonzero(overlap[1:, 1:])):
        g, p = g + 1, p + 1
        if crowd[g] or gt_classes[g] != pred_classes[p]:
            continue
        union = pred_area[p] + gt_area[g] - overlap[g, p] - on_void[p]
        iou = overlap[g, p] / union
        if iou > 0.5:
            gt_matched[g] = pred_matched[p] = True
            counts.tp[gt_classes[g]] += 1
            counts.iou_sum[gt_classes[g]] += iou
    for g in range(1, n_gt):
        if not gt_matched[g] and not crowd[g]:
            counts.fn[gt_classes[g]] += 1
    crowd_of_class = {int(gt_classes[g]): g for g in range(1, n_gt) if crowd[g]}
    for p in range(1, n_pred):
        if pred_matched[p]:
            continue
        ignored = on_void[p]
        if int(pred_classes[p]) in crowd_of_class:
            ignored += overlap[crowd_of_class[int(pred_classes[p])], p]
        if ignored / pred_area[p] > 0.5:
            continue
        counts.fp[pred_classes[p]] += 1
    return counts


def _pairs(pred_dir: Path, gt_dir: Path) -> List[Tuple[Path, Optional[Path], Path]]:
    """(semantic prediction, instance prediction or None, ground truth) for every frame."""
    semantic = sorted(p for p in pred_dir.glob('*.png') if not p.stem.endswith('_instances'))
    out = []
    for gt in sorted(gt_dir.rglob('*_gtFine_instanceIds.png')):
        prefix = gt.name.split('_gtFine_')[0]
        matches = [p for p in semantic if p.name.startswith(prefix)]
        if matches:
            instances = matches[0].with_name(matches[0].stem + '_instances.png')
            out.append((matches[0], instances if instances.exists() else None, gt))
    return out


def evaluate_panoptic(pred_dir: Path, gt_dir: Path) -> PanopticCounts:
    """Score every prediction that has a ``*_gtFine_instanceIds.png`` ground truth.

    Raises:
        FileNotFoundError: no prediction matches any ground-truth file.
        ValueError: unreadable file.

    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    pairs = _pairs(pred_dir, gt_dir)
    if not pairs:
        raise FileNotFoundError(
            f'no prediction in {pred_dir} matches a *_gtFine_instanceIds.png in {gt_dir}')
    total = PanopticCounts.zeros()
    for semantic_path, instances_path, gt_path in pairs:
        gt = read_label_image(gt_path)
        semantic = fit_labels(read_label_image(semantic_path), gt.shape)
        instances = (None if instances_path is None
                     else fit_labels(read_label_image(instances_path), gt.shape))
        total.add(frame_counts(gt, semantic, instances))
    return total


def format_table(counts: PanopticCounts) -> str:
    """Human-readable table: PQ, SQ, RQ per class, then the averages."""
    metrics = counts.per_class()
    lines = [f'{"class":<16} {"PQ":>6} {"SQ":>6} {"RQ":>6} {"TP":>5} {"FP":>5} {"FN":>5}']
    for index, name in enumerate(CLASS_NAMES):
        if np.isnan(metrics['pq'][index]):
            lines.append(f'{name:<16} {"-":>6} {"-":>6} {"-":>6}')
            continue
        lines.append(f'{name:<16} {metrics["pq"][index]:6.3f} {metrics["sq"][index]:6.3f} '
                     f'{metrics["rq"][index]:6.3f} {counts.tp[index]:5d} {counts.fp[index]:5d} '
                     f'{counts.fn[index]:5d}')
    for group, entry in counts.averages().items():
        if entry['classes']:
            lines.append(f'{group:<16} {entry["pq"]:6.3f} {entry["sq"]:6.3f} {entry["rq"]:6.3f}'
                         f'  ({entry["classes"]} classes)')
        else:
            lines.append(f'{group:<16} {"-":>6} {"-":>6} {"-":>6}  (0 classes)')
    lines.append(f'({counts.frames} frames)')
    return '\n'.join(lines)


def evaluate_images(segmenter, images_dir: Path, gt_dir: Path,
                    tracker_config=None) -> Dict[str, PanopticCounts]:
    """Segment every image of ``images_dir`` that has ground truth and score each variant.

    Args:
        tracker_config: score what the node publishes for each image as its camera's first
            frame (``image_eval.through_tracker``); None = the segmenter's instances.

    Returns:
        counts per variant (``image_eval.COMPONENTS`` always, ``image_eval.FUSION`` when the
        segmenter fuses a detector).

    Raises:
        FileNotFoundError: no image matches a ``*_gtFine_instanceIds.png`` in ``gt_dir``.

    """
    from seg_perception.tools import image_eval
    gts = {gt.name.split('_gtFine_')[0]: gt
           for gt in sorted(Path(gt_dir).rglob('*_gtFine_instanceIds.png'))}
    paths = [p for p in image_eval.image_paths(images_dir)
             if any(p.name.startswith(prefix) for prefix in gts)]
    if not paths:
        raise FileNotFoundError(
            f'no image in {images_dir} matches a *_gtFine_instanceIds.png in {gt_dir}')
    totals: Dict[str, PanopticCounts] = {}
    for path, variants in image_eval.iterate_predictions(segmenter, paths, tracker_config):
        gt = read_label_image(next(g for prefix, g in gts.items()
                                   if path.name.startswith(prefix)))
        for name, prediction in variants.items():
            semantic = fit_labels(prediction.semantic, gt.shape)
            instances = fit_labels(prediction.instances, gt.shape)
            totals.setdefault(name, PanopticCounts.zeros()).add(
                frame_counts(gt, semantic, instances))
    return totals


def car_person_pq(counts: PanopticCounts) -> Optional[float]:
    """Mean PQ of car and person (the classes a planner needs most), None without either."""
    pq = counts.per_class()['pq']
    values = [pq[CLASS_NAMES.index(name)] for name in ('car', 'person')]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else None


def format_side_by_side(totals: Dict[str, PanopticCounts]) -> str:
    """PQ / SQ / RQ of each thing class, one column group per variant."""
    names = list(totals)
    lines = [f'{"class":<12}' + ''.join(f' | {n + " PQ/SQ/RQ":<24}' for n in names)]
    for index, name in enumerate(CLASS_NAMES):
        if not IS_THING[index]:
            continue
        cells = []
        for variant in names:
            metrics = totals[variant].per_class()
            if np.isnan(metrics['pq'][index]):
                cells.append(f' | {"-":<24}')
            else:
                cells.append(f' | {metrics["pq"][index]:.3f} {metrics["sq"][index]:.3f} '
                             f'{metrics["rq"][index]:.3f}'.ljust(27))
        lines.append(f'{name:<12}' + ''.join(cells))
    lines.append(f'{"car+person":<12}' + ''.join(
        f' | {"-" if car_person_pq(totals[v]) is None else f"{car_person_pq(totals[v]):.3f}":<24}'
        for v in names))
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate panoptic``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--pred', type=Path,
                        help='folder of <stem>.png (canonical class ids) and <stem>_instances.png '
                             '(uint16 instance ids, 0 = none) per frame')
    source.add_argument('--images', type=Path,
                        help='folder of camera images (<city_seq_frame>_*.png): segment them with '
                             "the parameter file's backend (and detector) and score the result; "
                             'with a detector, its fusion and the plain connected components '
                             'are printed side by side')
    parser.add_argument('--gt', required=True, type=Path,
                        help='Cityscapes ground-truth folder (*_gtFine_instanceIds.png)')
    from seg_perception.tools import image_eval

    image_eval.add_pipeline_arguments(parser)  # --params-file etc. apply with --images


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate panoptic``; return the exit code."""
    if args.pred is not None:
        counts = evaluate_panoptic(args.pred, args.gt)
        print(format_table(counts))
        if args.json:
            print(json.dumps(counts.as_dict()))
        return 0
    from seg_perception.tools.image_eval import build_segmenter
    segmenter, tracker_config = build_segmenter(args.params_file, args.weights_dir)
    tracker_config = None if args.no_tracker else tracker_config
    print('instances: ' + ("the segmenter's" if tracker_config is None else
                           "the node's (each image a camera's first frame through the tracker)"))
    try:
        totals = evaluate_images(segmenter, args.images, args.gt, tracker_config)
    finally:
        segmenter.release()
    for name, counts in totals.items():
        print(f'== {name}')
        print(format_table(counts))
    print(format_side_by_side(totals))
    if args.json:
        print(json.dumps({name: {**counts.as_dict(), 'car_person_pq': car_person_pq(counts)}
                          for name, counts in totals.items()}))
    return 0
