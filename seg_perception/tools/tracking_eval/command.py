"""``seg-perception evaluate tracking``: the command line and its text tables."""

import argparse
import json
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from seg_perception.tools.tracking_eval.evaluation import evaluate_tracking
from seg_perception.tools.tracking_eval.peer_trackers import PEERS

COLUMNS = ('HOTA', 'DetA', 'AssA', 'IDF1', 'MOTA', 'IDSW', 'FP', 'FN', 'IDs')


def _row(label: str, scores: Mapping[str, float], columns: Sequence[str] = COLUMNS,
         width: int = 16) -> str:
    return f'{label:<{width}}' + ''.join(
        f'{scores[c]:>8.1f}' if isinstance(scores[c], float) else f'{scores[c]:>8d}'
        for c in columns)


def _best_row(best: Mapping[str, dict], columns: Sequence[str] = COLUMNS) -> str:
    cells = []
    for c in columns:
        if c not in best:
            cells.append(f'{"":>8}')
        else:
            value = best[c]['value']
            cells.append(f'{value:>8.1f}' if isinstance(value, float) else f'{value:>8d}')
    return f'{"best peer":<16}' + ''.join(cells) + '   (' + ', '.join(
        f'{c} {best[c]["tracker"]}' for c in ('HOTA', 'IDF1', 'IDSW') if c in best) + ')'


def format_table(result: dict) -> str:
    """Render ``evaluate_tracking``'s result as text tables: overall, per class, per sequence."""
    lines = [f'sequences: {" ".join(result["sequences"])}   seed: {result["seed"]}',
             'all classes together:',
             f'{"tracker":<16}' + ''.join(f'{c:>8}' for c in COLUMNS)]
    for name, scores in result['trackers'].items():
        lines.append(_row(name, scores))
    best = result.get('best_peer', {})
    if best.get('overall'):
        lines.append(_best_row(best['overall']))
    for class_name in _class_names(result):
        lines.append(f'class {class_name}:')
        for name, by_class in result['per_class'].items():
            if class_name in by_class:
                lines.append(_row(name, by_class[class_name]))
        if class_name in best.get('per_class', {}):
            lines.append(_best_row(best['per_class'][class_name]))
    lines.extend(_sequence_lines(result))
    timing = result.get('timing_ms_per_frame')
    if timing:
        per = ', '.join(f'{k} {v:.3f} ms' for k, v in timing.items() if k != 'objects')
        lines.append(f'time per frame with {int(timing["objects"])} objects: {per}')
    lines.extend(f'note: {note}' for note in result.get('notes', ()))
    return '\n'.join(lines)


def _class_names(result: dict) -> List[str]:
    names: Dict[str, None] = {}
    for by_class in result.get('per_class', {}).values():
        names.update(dict.fromkeys(by_class))
    return list(names)


def _sequence_lines(result: dict) -> List[str]:
    """One line per sequence: HOTA / IDF1 / IDSW of every tracker."""
    per_sequence = result.get('per_sequence', {})
    if len(per_sequence) < 2:
        return []
    trackers = list(result['trackers'])
    lines = ['per sequence, HOTA / IDF1 / IDSW:',
             f'{"sequence":<10}' + ''.join(f'{name:>22}' for name in trackers)]
    for sequence, table in per_sequence.items():
        cells = ''.join(
            f'{table[t]["HOTA"]:>8.1f} /{table[t]["IDF1"]:>5.1f} /{table[t]["IDSW"]:>4d}'
            if t in table else f'{"":>22}' for t in trackers)
        lines.append(f'{sequence:<10}' + cells)
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate tracking``."""
    parser.add_argument('--kitti-labels', type=Path, default=None,
                        help='KITTI tracking label_02 folder (or a folder above one)')
    parser.add_argument('--sequences', nargs='+', default=None, metavar='S',
                        help='KITTI sequences to use (file stems, e.g. 0001); default all')
    parser.add_argument('--mot-gt', nargs='+', type=Path, default=(), metavar='PATH',
                        help='MOTChallenge gt.txt files or sequence folders')
    parser.add_argument('--seed', type=int, default=0, help='seed of the detection noise')
    parser.add_argument('--no-peer', action='store_true', help='run no peer tracker')
    parser.add_argument('--peers', nargs='+', default=list(PEERS), choices=PEERS,
                        metavar='NAME', help=f'peer trackers to run (default all: {PEERS})')
    parser.add_argument('--bench-objects', type=int, default=50,
                        help='objects per frame of the timing benchmark (0: skip it)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate tracking``; return the exit code."""
    if args.kitti_labels is None and not args.mot_gt:
        raise ValueError('give --kitti-labels DIR and / or --mot-gt PATH')
    result = evaluate_tracking(args.kitti_labels, sequences=args.sequences, seed=args.seed,
                               peer=not args.no_peer, mot_gt=args.mot_gt,
                               bench_objects=args.bench_objects, peers=args.peers)
    print(format_table(result))
    if args.json:
        print(json.dumps(result))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Stand-alone entry point (``python -m seg_perception.tools.tracking_eval``)."""
    from seg_perception.tools import tracking_eval
    parser = argparse.ArgumentParser(prog='seg-perception evaluate tracking',
                                     description=tracking_eval.__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
