"""``seg-perception evaluate lanes``: score the configured pipeline's lane lines on a benchmark.

Runs the pipeline of ``--params-file`` (the node's parameter file; default config/default.yaml)
on the frames of ``--images`` that have ground truth in ``--gt`` and scores its lane lines:

* ``--format tusimple``: ``--gt`` is a TuSimple label file (json lines) or a folder of them;
  ``raw_file`` is relative to ``--images``. A frame labelled in several files is scored
  against the labels whose rows fit its size. Accuracy, FP and FN as the TuSimple benchmark.
* ``--format culane``: ``--gt`` mirrors ``--images`` with ``<frame>.lines.txt`` files.
  Precision, recall and F1 at IoU >= 0.5 of 30 px wide lanes at 1640x590.

Frames of one folder whose numeric names differ by at most ``--sequence-gap`` are one sequence
(CULane keeps every 30th video frame, so 30 = consecutive): the lane tracker carries on between
them and lane-id stability is reported (a ground-truth lane seen in two consecutive frames keeps
the id of its matched lane line); elsewhere the tracker starts afresh.
"""

import argparse
import json
from pathlib import Path
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from seg_perception.structures import Frame
from seg_perception.tools import lane_metrics
from seg_perception.tools.harness import add_settings_arguments
from seg_perception.tools.image_source import read_rgb

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate lanes``."""
    parser.add_argument('--images', type=Path, required=True, help='folder of the frames')
    parser.add_argument('--gt', type=Path, required=True,
                        help='TuSimple label file or folder; CULane .lines.txt folder')
    parser.add_argument('--format', choices=('tusimple', 'culane'), required=True)
    add_settings_arguments(parser)
    parser.add_argument('--sequence-gap', type=int, default=30,
                        help='largest numeric name gap of consecutive frames (default 30)')
    parser.add_argument('--limit', type=int, default=0, help='first N frames only (0 = all)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def _frame_number(path: Path) -> Optional[int]:
    return int(path.stem) if path.stem.isdigit() else None


def _find_image(images: Path, relative: str) -> Optional[Path]:
    base = images / relative
    if base.is_file():
        return base
    for suffix in IMAGE_SUFFIXES:
        if base.with_suffix(suffix).is_file():
            return base.with_suffix(suffix)
    return None


def culane_items(images: Path, gt: Path) -> List[Tuple[Path, object]]:
    """Return (image, list of GT polylines) for every ``.lines.txt`` under ``gt``, name order."""
    items = []
    for label in sorted(gt.rglob('*.lines.txt')):
        relative = str(label.relative_to(gt))[:-len('.lines.txt')]
        image = _find_image(images, relative)
        if image is not None:
            items.append((image, lane_metrics.read_culane_lines(label)))
    return items


def tusimple_items(images: Path, gt: Path) -> List[Tuple[Path, object]]:
    """Return (image, TuSimpleFrame) per labelled frame found in ``images``, name order."""
    by_file: Dict[str, List[lane_metrics.TuSimpleFrame]] = {}
    for entry in lane_metrics.read_tusimple(gt):
        by_file.setdefault(entry.raw_file, []).append(entry)
    items = []
    for raw_file in sorted(by_file):
        image = _find_image(images, raw_file)
        if image is not None:
            items.append((image, by_file[raw_file]))
    return items


def _pick_labels(candidates, height: int, width: int):
    """Return the label entry whose rows and x fit the image (several files may label one)."""
    fitting = [c for c in candidates
               if c.h_samples.max() < height and c.lanes.max(initial=-2) < 1.2 * width]
    return (fitting or candidates)[0]


def _lane_rows(line, rows: np.ndarray, width: int) -> np.ndarray:
    xs = line.x_at(rows)
    absent = (rows < line.y_top) | (rows > line.y_bottom) | (xs < 0) | (xs >= width)
    return np.where(absent, -2.0, xs)


def evaluate(pipeline, items, fmt: str, sequence_gap: int,
             progress=None) -> Dict[str, object]:
    """Run ``pipeline`` over ``items`` (from ``culane_items`` / ``tusimple_items``); score."""
    stability = lane_metrics.IdStability()
    totals = np.zeros(3)
    counts = {'tp': 0, 'fp': 0, 'fn': 0}
    previous: Optional[Tuple[Path, Optional[int]]] = None
    seconds = []
    for index, (image_path, labels) in enumerate(items):
        rgb = read_rgb(image_path)
        height, width = rgb.shape[:2]
        sequence, number = image_path.parent, _frame_number(image_path)
        consecutive = previous is not None and previous[0] == sequence and \
            number is not None and previous[1] is not None and \
            0 < number - previous[1] <= sequence_gap
        if not consecutive:
            pipeline.reset(str(sequence))
            stability.reset()
        previous = (sequence, number)
        start = time.perf_counter()
        frame = Frame(rgb, stamp_ns=index * 100_000_000, frame_id='camera',
                      camera=str(sequence))
        result = pipeline.process(frame)
        seconds.append(time.perf_counter() - start)
        lines = list(result.lanes)
        if fmt == 'tusimple':
            entry = _pick_labels(labels, height, width)
            predictions = [_lane_rows(line, entry.h_samples, width) for line in lines]
            totals += lane_metrics.tusimple_frame(predictions, entry.lanes, entry.h_samples,
                                                  width)
            gt_lines = [np.stack((lane, entry.h_samples), axis=1)[lane >= 0]
                        for lane in entry.lanes if (lane >= 0).sum() >= 2]
        else:
            gt_lines = labels
        tp, fp, fn, pairs = lane_metrics.culane_frame(
            [line.image_points for line in lines], gt_lines, (height, width))
        counts['tp'] += tp
        counts['fp'] += fp
        counts['fn'] += fn
        stability.update(gt_lines, {g: lines[p].lane_id for p, g in pairs}, height, width)
        if progress is not None:
            progress(index + 1, len(items), image_path, len(lines))
    frames = len(items)
    results: Dict[str, object] = {'format': fmt, 'frames': frames,
                                  'seconds_per_frame': float(np.mean(seconds)) if seconds else 0}
    culane = dict(counts, **lane_metrics.f1_scores(counts['tp'], counts['fp'], counts['fn']))
    if fmt == 'tusimple':
        accuracy, fp_rate, fn_rate = (totals / max(frames, 1)).tolist()
        results.update(accuracy=accuracy, fp=fp_rate, fn=fn_rate, culane_style=culane)
    else:
        results.update(culane)
    results['id_stability'] = stability.summary()
    return results


def run(args: argparse.Namespace) -> int:
    """Run ``seg-perception evaluate lanes``."""
    from seg_perception.tools.process_bag import pipeline_from_file

    if not args.images.is_dir():
        raise FileNotFoundError(f'--images {args.images} is not a folder')
    if not args.gt.exists():
        raise FileNotFoundError(f'--gt {args.gt} does not exist')
    items = culane_items(args.images, args.gt) if args.format == 'culane' \
        else tusimple_items(args.images, args.gt)
    if args.limit:
        items = items[:args.limit]
    if not items:
        raise ValueError(f'no frames of {args.images} have {args.format} labels in {args.gt}')
    pipeline, settings = pipeline_from_file(args.params_file, args.weights_dir)
    print(f'{len(items)} frames, backend {settings.backend}')

    def progress(done, total, path, count):
        print(f'  {done}/{total} {path.name}: {count} lane lines', flush=True)

    results = evaluate(pipeline, items, args.format, args.sequence_gap, progress)
    results['backend'] = settings.backend
    if args.format == 'tusimple':
        print(f'TuSimple: accuracy {results["accuracy"]:.4f}, FP {results["fp"]:.4f}, '
              f'FN {results["fn"]:.4f} (LSTR published: 96.18 % accuracy, FP 2.91 %, FN 3.38 % '
              'on the TuSimple test set)')
    else:
        print(f'CULane: precision {results["precision"]:.4f}, recall {results["recall"]:.4f}, '
              f'F1 {results["f1"]:.4f} (TP {results["tp"]}, FP {results["fp"]}, '
              f'FN {results["fn"]})')
    stability = results['id_stability']
    print('lane-id stability: ' + (
        f'{stability["kept"]}/{stability["pairs"]} ground-truth lanes kept their id between '
        'consecutive frames' if stability else 'no consecutive frames'))
    print(f'{results["seconds_per_frame"]:.2f} s per frame')
    if args.json:
        print(json.dumps(results))
    return 0
