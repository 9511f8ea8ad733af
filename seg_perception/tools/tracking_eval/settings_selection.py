"""Choose tracker settings by cross-validation over sequences, never on one.

Every candidate of a small grid (``SEARCH_SPACE``: mechanisms on or off, per-class settings of
pedestrians) runs on every sequence once; then, per fold, the candidate with the best combined
HOTA on the training sequences is scored on the held-out ones. The spread of those held-out
scores is what to expect on sequences never seen; the candidate chosen on all sequences is the
default to ship. Leave-one-out when ``folds`` equals the number of sequences.
"""

import argparse
from concurrent.futures import ProcessPoolExecutor
import dataclasses
import itertools
import json
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from seg_perception.tools.tracking_eval.detection_noise import NoiseConfig
from seg_perception.tools.tracking_eval.evaluation import (
    ALL_CLASSES, read_sequences, sequence_detections, sequence_scores, summarise)
from seg_perception.tools.tracking_eval.ground_truth import SequenceGT
from seg_perception.tools.tracking_eval.peer_trackers import peer_runners, PEERS, run_ours
from seg_perception.tools.tracking_eval.tracking_scores import combine
from seg_perception.tracking import ClassSettings, TrackerConfig

#: Settings searched: name -> values. ``person_*`` fields are the pedestrians'
#: ``ClassSettings``; the others are ``TrackerConfig`` fields.
SEARCH_SPACE: Dict[str, Tuple] = {
    'camera_motion': (False, True),
    'last_observation_iou': (0.0, 0.3),
    'person_acceleration': (1.0, 2.0),
    'person_buffer': (1.0, 1.5),
    'person_fuse_score': (True, False),
}
#: Observation-centric re-update: off, or after gaps of at least 0, 0.3 or 0.6 s.
SEARCH_SPACE_RECOVERY: Dict[str, Tuple] = {
    'observation_recovery': (False, True),
    'observation_recovery_min_gap_s': (0.0, 0.3, 0.6),
}
#: A smaller space for runs over several seeds (``person_acceleration`` 1.0 won 16 of 17
#: leave-one-out folds with one seed).
SEARCH_SPACE_SMALL: Dict[str, Tuple] = {
    name: values for name, values in SEARCH_SPACE.items() if name != 'person_acceleration'}


SPACES = {'full': SEARCH_SPACE, 'small': SEARCH_SPACE_SMALL, 'recovery': SEARCH_SPACE_RECOVERY}


def candidates(space: Mapping[str, Sequence] = SEARCH_SPACE,
               base: TrackerConfig = TrackerConfig()) -> Dict[str, TrackerConfig]:
    """Return every combination of ``space`` applied to ``base``, keyed by a readable name."""
    names = list(space)
    out = {}
    for values in itertools.product(*(space[name] for name in names)):
        chosen = dict(zip(names, values))
        out[_label(chosen)] = config_from(chosen, base)
    return out


def config_from(chosen: Mapping[str, object], base: TrackerConfig = TrackerConfig()
                ) -> TrackerConfig:
    """Apply settings named as in ``SEARCH_SPACE`` to ``base``."""
    person = {k[len('person_'):]: v for k, v in chosen.items() if k.startswith('person_')}
    general = {k: v for k, v in chosen.items() if not k.startswith('person_')}
    others = tuple((name, s) for name, s in base.class_settings if name != 'person')
    if person:
        others = (('person', ClassSettings(**person)),) + others
    return dataclasses.replace(base, class_settings=others, **general)


def _label(chosen: Mapping[str, object]) -> str:
    return ','.join(f'{k}={v}' for k, v in chosen.items())


def _run_candidate(job: Tuple[str, TrackerConfig, List[SequenceGT], int, NoiseConfig, bool]
                   ) -> Tuple[str, Dict[str, dict]]:
    name, config, gts, seed, noise, per_class = job
    return name, {
        gt.name: sequence_scores(gt, run_ours(sequence_detections(gt, seed, noise), gt.fps,
                                              config), per_class=per_class)
        for gt in gts}


def run_candidates(gts: Sequence[SequenceGT], configs: Mapping[str, TrackerConfig],
                   seed: int = 0, noise: NoiseConfig = NoiseConfig(), workers: int = 1,
                   per_class: bool = False) -> Dict[str, Dict[str, dict]]:
    """Run every candidate on every sequence; return candidate -> sequence -> results.

    Only the class-agnostic scores are computed unless ``per_class`` (they decide the choice;
    per-class scoring costs three times more).
    """
    jobs = [(name, config, list(gts), seed, noise, per_class)
            for name, config in configs.items()]
    if workers <= 1:
        return dict(map(_run_candidate, jobs))
    with ProcessPoolExecutor(workers) as pool:
        return dict(pool.map(_run_candidate, jobs))


def make_folds(names: Sequence[str], folds: int) -> List[List[str]]:
    """Split sequence names into ``folds`` held-out groups (round robin over sorted names)."""
    if not 2 <= folds <= len(names):
        raise ValueError(f'folds must be in [2, {len(names)}], got {folds}')
    ordered = sorted(names)
    return [ordered[k::folds] for k in range(folds)]


def cross_validate(results: Mapping[str, Mapping[str, dict]], folds: Sequence[Sequence[str]],
                   reference: Optional[Mapping[str, Mapping[str, dict]]] = None) -> dict:
    """Choose a candidate per fold on the other sequences; score it on the held-out ones.

    Args:
        results: candidate -> sequence -> ``sequence_scores``'s dict.
        folds: held-out sequence names of each fold.
        reference: other trackers (e.g. the peers) -> sequence -> results, scored on the same
            held-out sequences for comparison.

    Returns:
        ``{'folds': [{'held_out', 'chosen', 'train_HOTA', 'held_out': figures,
        'reference': {tracker: figures}}], 'held_out_HOTA': {'mean', 'min', 'max', 'std'},
        'chosen_counts': {candidate: folds}}``.

    """
    out_folds = []
    for held_out in folds:
        train_scores = {}
        for name, by_sequence in results.items():
            train = [r[ALL_CLASSES] for s, r in by_sequence.items() if s not in held_out]
            train_scores[name] = combine(train)['HOTA']
        chosen = max(train_scores, key=train_scores.get)
        fold = {'held_out': list(held_out), 'chosen': chosen,
                'train_HOTA': train_scores[chosen],
                'scores': combine([results[chosen][s][ALL_CLASSES] for s in held_out])}
        if reference:
            fold['reference'] = {
                name: combine([by_sequence[s][ALL_CLASSES] for s in held_out])
                for name, by_sequence in reference.items()}
        out_folds.append(fold)
    hota = np.array([f['scores']['HOTA'] for f in out_folds])
    counts: Dict[str, int] = {}
    for fold in out_folds:
        counts[fold['chosen']] = counts.get(fold['chosen'], 0) + 1
    return {
        'folds': out_folds,
        'held_out_HOTA': {'mean': float(hota.mean()), 'min': float(hota.min()),
                          'max': float(hota.max()), 'std': float(hota.std())},
        'chosen_counts': counts,
    }


def select_settings(gts: Sequence[SequenceGT], folds: int = 0, seed: int = 0,
                    noise: NoiseConfig = NoiseConfig(), workers: int = 1,
                    space: Mapping[str, Sequence] = SEARCH_SPACE, peer: bool = True,
                    seeds: Optional[Sequence[int]] = None) -> dict:
    """Run the whole selection: candidates, folds (0: leave-one-out), the choice on all.

    Args:
        gts: the sequences.
        folds: number of folds over sequences; 0 leaves one sequence out per fold.
        seed: noise seed (when ``seeds`` is None).
        noise: the noise model.
        workers: processes running candidates.
        space: the settings searched (see ``SEARCH_SPACE``).
        peer: also score the peers on every held-out fold.
        seeds: several noise seeds: every sequence is run with each, results are keyed
            ``sequence@seed``, and a fold holds out a sequence with all its seeds (so a choice
            never sees the held-out scene under any noise).

    Returns:
        ``cross_validate``'s dict plus ``'chosen_on_all'`` (candidate name), ``'settings'``
        (its values by ``SEARCH_SPACE`` name), ``'candidates'`` (name -> HOTA on all), and
        ``'summary'`` (``summarise`` of the chosen candidate and the peers, first seed).

    """
    seeds = list(seeds) if seeds else [seed]
    configs = candidates(space)

    def key(name: str, one_seed: int) -> str:
        return name if len(seeds) == 1 else f'{name}@{one_seed}'

    results: Dict[str, Dict[str, dict]] = {name: {} for name in configs}
    reference: Dict[str, Dict[str, dict]] = {}
    runners = peer_runners(PEERS)[0] if peer else {}
    for one_seed in seeds:
        for name, by_sequence in run_candidates(gts, configs, one_seed, noise,
                                                workers).items():
            results[name].update({key(s, one_seed): r for s, r in by_sequence.items()})
        for gt in gts:
            frames = sequence_detections(gt, one_seed, noise)
            for name, runner in runners.items():
                reference.setdefault(name, {})[key(gt.name, one_seed)] = sequence_scores(
                    gt, runner(frames, gt.fps))
    names = [gt.name for gt in gts]
    held_out = [[key(s, one_seed) for s in fold for one_seed in seeds]
                for fold in make_folds(names, folds or len(names))]
    out = cross_validate(results, held_out, reference)
    on_all = {name: combine([r[ALL_CLASSES] for r in by_sequence.values()])['HOTA']
              for name, by_sequence in results.items()}
    chosen = max(on_all, key=on_all.get)
    out['seeds'] = seeds
    out['chosen_on_all'] = chosen
    out['settings'] = dict(zip(space, next(
        values for values in itertools.product(*space.values())
        if _label(dict(zip(space, values))) == chosen)))
    out['candidates'] = dict(sorted(on_all.items(), key=lambda item: -item[1]))
    chosen_results = run_candidates(gts, {chosen: configs[chosen]}, seeds[0], noise,
                                    per_class=True)[chosen]
    first = {name: {s: by_key[key(s, seeds[0])] for s in names}
             for name, by_key in reference.items()}
    out['summary'] = summarise({'seg_perception': chosen_results, **first})
    return out


def format_selection(result: dict) -> str:
    """Render ``select_settings``'s result as text: one line per fold, then the choice."""
    peers = sorted(result['folds'][0].get('reference', {}))
    lines = ['held-out HOTA per fold (ours with the settings chosen on the other sequences):',
             f'{"held out":<16}{"ours":>8}' + ''.join(f'{p:>10}' for p in peers) + '  chosen']
    for fold in result['folds']:
        ref = fold.get('reference', {})
        lines.append(f'{" ".join(fold["held_out"]):<16}{fold["scores"]["HOTA"]:>8.1f}'
                     + ''.join(f'{ref[p]["HOTA"]:>10.1f}' for p in peers)
                     + f'  {fold["chosen"]}')
    spread = result['held_out_HOTA']
    lines.append(f'held-out HOTA: mean {spread["mean"]:.1f}, min {spread["min"]:.1f}, '
                 f'max {spread["max"]:.1f}, std {spread["std"]:.2f}')
    lines.append(f'chosen per fold: {result["chosen_counts"]}')
    lines.append(f'chosen on all sequences: {result["settings"]}')
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate tracking-select``."""
    parser.add_argument('--kitti-labels', type=Path, required=True,
                        help='KITTI tracking label_02 folder (or a folder above one)')
    parser.add_argument('--sequences', nargs='+', default=None, metavar='S',
                        help='sequences to use (default all)')
    parser.add_argument('--folds', type=int, default=0,
                        help='number of folds (default 0: leave one sequence out)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the detection noise')
    parser.add_argument('--seeds', type=int, nargs='+', default=None, metavar='SEED',
                        help='several noise seeds (a fold holds a sequence out with all)')
    parser.add_argument('--workers', type=int, default=1, help='processes running candidates')
    parser.add_argument('--no-peer', action='store_true', help='do not score the peers')
    parser.add_argument('--space', choices=sorted(SPACES), default='full',
                        help='settings searched: full (SEARCH_SPACE, 32 candidates), small '
                        '(16), recovery (the re-update after a gap, 6)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate tracking-select``; return the exit code."""
    gts = read_sequences(args.kitti_labels, args.sequences)
    result = select_settings(gts, folds=args.folds, seed=args.seed, workers=args.workers,
                             peer=not args.no_peer, seeds=args.seeds,
                             space=SPACES[args.space])
    print(format_selection(result))
    if args.json:
        print(json.dumps(result))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: ``python -m seg_perception.tools.tracking_eval.settings_selection``."""
    parser = argparse.ArgumentParser(prog='seg-perception evaluate tracking-select',
                                     description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    raise SystemExit(main())
