"""2D box recall and precision of instance boxes against KITTI object labels (``label_2``).

The parameter file's segmenter runs on every image of a KITTI object folder (``images/`` or
``image_2/``, labels in ``gt/`` or ``label_2/``, one ``<frame>.txt`` per image). Every instance's
box (``Segment.bbox``, input pixels) is matched to the labelled boxes of its class, greedily by
score, at IoU >= 0.5 (KITTI's own threshold is 0.7 for cars; 0.5 is asked of us here):

- car: our ``car`` instances against ``Car`` labels;
- pedestrian: our ``person`` instances against ``Pedestrian`` labels.

An unmatched instance is not counted as a false positive when it overlaps (IoU >= 0.5) a label
KITTI keeps out of that class's score (``Van``, ``Truck``, ``Person_sitting``, ``Cyclist``,
``Misc``), or lies for more than half inside a ``DontCare`` region. All labelled boxes count,
whatever their height, truncation or occlusion. With a detector configured, the wrapped backend's
connected components and the fusion are scored side by side.
"""

import argparse
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from seg_perception import taxonomy
from seg_perception.structures import Segment

#: Evaluated classes: name -> (our canonical class, KITTI type, KITTI types neither hit nor miss).
CLASSES: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    'car': ('car', 'Car', ('Van', 'Truck', 'Misc', 'Tram')),
    'pedestrian': ('person', 'Pedestrian', ('Person_sitting', 'Cyclist')),
}
IOU_THRESHOLD = 0.5


def read_kitti_labels(path: Path) -> List[Tuple[str, np.ndarray]]:
    """Return (type, (4,) float box x1 y1 x2 y2) per line of a KITTI ``label_2`` file.

    Raises:
        ValueError: a line with fewer than 8 fields or non-numeric box values.

    """
    labels = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 8:
            raise ValueError(f'{path}:{number}: a label_2 line has 15 fields, got {len(fields)}')
        try:
            box = np.array([float(v) for v in fields[4:8]])
        except ValueError:
            raise ValueError(f'{path}:{number}: box fields are not numbers: {fields[4:8]}')
        labels.append((fields[0], box))
    return labels


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of boxes ``a`` (N, 4) and ``b`` (M, 4), x1 y1 x2 y2."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _inside_fraction(boxes: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """(N,) largest fraction of each box's area inside one of ``regions``."""
    if len(regions) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes))
    lt = np.maximum(boxes[:, None, :2], regions[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], regions[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1e-9, None), axis=1)
    return (inter / area[:, None]).max(axis=1)


def match_frame(segments: Sequence[Segment], labels: Sequence[Tuple[str, np.ndarray]]
                ) -> Dict[str, Dict[str, int]]:
    """Count true positives, false positives and misses per evaluated class in one frame."""
    out = {}
    dont_care = np.array([box for kind, box in labels if kind == 'DontCare']).reshape(-1, 4)
    for name, (ours, kitti_type, neutral) in CLASSES.items():
        class_id = taxonomy.class_id(ours)
        found = sorted((s for s in segments if s.class_id == class_id), key=lambda s: -s.score)
        boxes = np.array([s.bbox for s in found], np.float64).reshape(-1, 4)
        gt = np.array([box for kind, box in labels if kind == kitti_type]).reshape(-1, 4)
        other = np.array([box for kind, box in labels if kind in neutral]).reshape(-1, 4)
        iou = box_iou(boxes, gt)
        taken = np.zeros(len(gt), bool)
        tp = fp = 0
        ignorable = ((box_iou(boxes, other).max(axis=1, initial=0.0) >= IOU_THRESHOLD)
                     | (_inside_fraction(boxes, dont_care) > 0.5))
        for i in range(len(boxes)):
            candidates = np.where(~taken & (iou[i] >= IOU_THRESHOLD))[0]
            if candidates.size:
                taken[candidates[np.argmax(iou[i, candidates])]] = True
                tp += 1
            elif not ignorable[i]:
                fp += 1
        out[name] = {'tp': tp, 'fp': fp, 'fn': int((~taken).sum())}
    return out


def _folder(root: Path, names: Sequence[str]) -> Path:
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f'{root} has none of the folders {", ".join(names)}')


def evaluate_kitti(segmenter, root: Path,
                   tracker_config=None) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Score each variant's instance boxes on a KITTI object folder; see the module docstring.

    Args:
        tracker_config: score what the node publishes for each image as its camera's first
            frame (``image_eval.through_tracker``); None = the segmenter's instances.

    Returns:
        ``{variant: {class: {tp, fp, fn, recall, precision}}, 'frames': n}``.

    """
    from seg_perception.tools import image_eval
    root = Path(root)
    images = _folder(root, ('images', 'image_2'))
    label_dir = _folder(root, ('gt', 'label_2'))
    paths = [p for p in image_eval.image_paths(images) if (label_dir / f'{p.stem}.txt').is_file()]
    if not paths:
        raise FileNotFoundError(f'no image in {images} has a label file in {label_dir}')
    totals: Dict[str, Dict[str, Dict[str, float]]] = {}
    for path, variants in image_eval.iterate_predictions(segmenter, paths, tracker_config):
        labels = read_kitti_labels(label_dir / f'{path.stem}.txt')
        for variant, prediction in variants.items():
            for name, counts in match_frame(prediction.segments, labels).items():
                entry = totals.setdefault(variant, {}).setdefault(
                    name, {'tp': 0, 'fp': 0, 'fn': 0})
                for key, value in counts.items():
                    entry[key] += value
    for classes in totals.values():
        for entry in classes.values():
            found, labelled = entry['tp'] + entry['fp'], entry['tp'] + entry['fn']
            entry['recall'] = entry['tp'] / labelled if labelled else None
            entry['precision'] = entry['tp'] / found if found else None
    return {'frames': len(paths), **totals}


def format_table(results: Dict) -> str:
    """Recall / precision per class, one column per variant."""
    variants = [k for k in results if k != 'frames']
    lines = [f'{"class":<12}' + ''.join(f' | {v + " recall / precision (TP FP FN)":<40}'
                                        for v in variants)]
    for name in CLASSES:
        cells = []
        for variant in variants:
            e = results[variant][name]
            recall = '-' if e['recall'] is None else f'{e["recall"]:.3f}'
            precision = '-' if e['precision'] is None else f'{e["precision"]:.3f}'
            cells.append(f' | {recall} / {precision} ({e["tp"]} {e["fp"]} {e["fn"]})'.ljust(43))
        lines.append(f'{name:<12}' + ''.join(cells))
    lines.append(f'({results["frames"]} frames, box IoU >= {IOU_THRESHOLD})')
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate boxes``."""
    parser.add_argument('--kitti-root', required=True, type=Path,
                        help='KITTI object folder: images/ (or image_2/) and gt/ (or label_2/)')
    from seg_perception.tools import image_eval

    image_eval.add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate boxes``; return the exit code."""
    from seg_perception.tools.image_eval import build_segmenter
    segmenter, tracker_config = build_segmenter(args.params_file, args.weights_dir)
    tracker_config = None if args.no_tracker else tracker_config
    print('instances: ' + ("the segmenter's" if tracker_config is None else
                           "the node's (each image a camera's first frame through the tracker)"))
    try:
        results = evaluate_kitti(segmenter, args.kitti_root, tracker_config)
    finally:
        segmenter.release()
    print(format_table(results))
    if args.json:
        print(json.dumps(results))
    return 0
