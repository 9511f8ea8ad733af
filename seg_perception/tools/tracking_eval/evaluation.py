"""Run trackers on noisy detections of many sequences; score overall, per class, per sequence."""

from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence
import zlib

import numpy as np

from seg_perception.tools.tracking_eval.detection_noise import (
    FrameDetections, make_detections, NoiseConfig)
from seg_perception.tools.tracking_eval.ground_truth import (
    find_kitti_sequences, read_kitti_labels, read_mot_gt, SequenceGT)
from seg_perception.tools.tracking_eval.peer_trackers import (
    OURS, peer_runners, PEERS, run_ours, Runner)
from seg_perception.tools.tracking_eval.timing import benchmark
from seg_perception.tools.tracking_eval.tracking_scores import (
    best_of, class_ids, combine, score_classes, SCORED_CLASSES, sequence_results,
    trackeval_data)
from seg_perception.tracking import TrackerConfig

#: Key of the class-agnostic results in the per-sequence tables.
ALL_CLASSES = 'all'


def sequence_detections(gt: SequenceGT, seed: int,
                        noise: NoiseConfig = NoiseConfig()) -> List[FrameDetections]:
    """Return a sequence's noisy detections; they depend only on ``seed``, the name and noise."""
    rng = np.random.default_rng([seed, zlib.crc32(gt.name.encode())])
    return make_detections(gt, noise, rng)


def sequence_scores(gt: SequenceGT, outputs,
                    per_class: bool = True) -> Dict[str, Dict[str, dict]]:
    """Evaluate one tracker's outputs on one sequence, class-agnostic and per scored class.

    Returns:
        ``ALL_CLASSES`` and each class of ``SCORED_CLASSES`` -> ``sequence_results``; the
        classes only when ``per_class`` and every output carries classes.

    """
    out = {ALL_CLASSES: sequence_results(trackeval_data(gt, outputs))}
    if per_class and all(o.classes is not None for o in outputs):
        for name, canonical in SCORED_CLASSES.items():
            out[name] = sequence_results(trackeval_data(gt, outputs, class_ids(canonical)))
    return out


def summarise(results: Mapping[str, Mapping[str, Mapping[str, dict]]]) -> dict:
    """Combine per-sequence results of several trackers.

    Args:
        results: tracker -> sequence -> ``sequence_scores``'s dict.

    Returns:
        ``{'trackers': {tracker: scores}, 'per_class': {tracker: {class: scores}},
        'per_sequence': {sequence: {tracker: scores}}, 'per_sequence_class': {sequence:
        {tracker: {class: scores}}}}``; scores as ``tracking_scores.score`` returns them.

    """
    out = {'trackers': {}, 'per_class': {}, 'per_sequence': {}, 'per_sequence_class': {}}
    for tracker, by_sequence in results.items():
        out['trackers'][tracker] = combine([r[ALL_CLASSES] for r in by_sequence.values()])
        classes = [c for c in SCORED_CLASSES
                   if all(c in r for r in by_sequence.values())]
        if classes:
            out['per_class'][tracker] = score_classes(
                {c: [r[c] for r in by_sequence.values()] for c in classes})
        for sequence, result in by_sequence.items():
            out['per_sequence'].setdefault(sequence, {})[tracker] = combine(
                [result[ALL_CLASSES]])
            out['per_sequence_class'].setdefault(sequence, {})[tracker] = {
                c: combine([result[c]]) for c in classes if result[c]['num_gt_dets'] > 0}
    return out


def best_peers(summary: dict, ours: str = OURS) -> dict:
    """Return the best peer (any tracker but ``ours``) per figure: overall, per class, sequence.

    See ``tracking_scores.best_of``.
    """
    def peers(table: Mapping[str, dict]) -> Dict[str, dict]:
        return {name: figures for name, figures in table.items() if name != ours}

    classes = {}
    for tracker, by_class in summary['per_class'].items():
        if tracker == ours:
            continue
        for name, figures in by_class.items():
            classes.setdefault(name, {})[tracker] = figures
    return {
        'overall': best_of(peers(summary['trackers'])),
        'per_class': {name: best_of(table) for name, table in classes.items()},
        'per_sequence': {sequence: best_of(peers(table))
                         for sequence, table in summary['per_sequence'].items()},
    }


def evaluate_sequences(sequences: Sequence[SequenceGT], seed: int = 0,
                       noise: NoiseConfig = NoiseConfig(),
                       config: Optional[TrackerConfig] = None, peer: bool = True,
                       peers: Sequence[str] = PEERS,
                       runners: Optional[Mapping[str, Runner]] = None) -> dict:
    """Run the trackers on noisy detections of each sequence and score them.

    Args:
        sequences: ground truth of each sequence.
        seed: seed of the noise; a sequence's detections depend only on it and the name.
        noise: the noise model.
        config: our tracker's config (defaults when None).
        peer: also run the peers (each skipped with a note if not installed).
        peers: which peers, from ``peer_trackers.PEERS``.
        runners: trackers to run instead of ours and the peers (name -> runner).

    Returns:
        ``{'sequences', 'seed', 'noise', 'trackers', 'per_class', 'per_sequence',
        'per_sequence_class', 'best_peer', 'notes'}`` (see ``summarise`` and ``best_peers``).

    """
    if not sequences:
        raise ValueError('no sequences to evaluate')
    notes: List[str] = []
    if runners is None:
        runners = {OURS: lambda frames, fps: run_ours(frames, fps, config)}
        if peer:
            found, notes = peer_runners(peers)
            runners.update(found)
    results: Dict[str, Dict[str, dict]] = {}
    for gt in sequences:
        frames = sequence_detections(gt, seed, noise)
        for name, runner in runners.items():
            results.setdefault(name, {})[gt.name] = sequence_scores(gt, runner(frames, gt.fps))
    summary = summarise(results)
    return {
        'sequences': [gt.name for gt in sequences], 'seed': seed, 'noise': asdict(noise),
        **summary, 'best_peer': best_peers(summary), 'notes': notes,
    }


def read_sequences(label_dir: Optional[Path] = None, sequences: Optional[Sequence[str]] = None,
                   mot_gt: Sequence[Path] = ()) -> List[SequenceGT]:
    """Read KITTI label files (all, or ``sequences``) and MOTChallenge ground truths."""
    gts = []
    if label_dir is not None:
        gts.extend(read_kitti_labels(path) for path in find_kitti_sequences(label_dir, sequences))
    for path in mot_gt:
        path = Path(path)
        gts.append(read_mot_gt(path / 'gt' / 'gt.txt' if path.is_dir() else path))
    return gts


def evaluate_tracking(label_dir: Optional[Path] = None, sequences: Optional[Sequence[str]] = None,
                      seed: int = 0, noise: NoiseConfig = NoiseConfig(),
                      config: Optional[TrackerConfig] = None, peer: bool = True,
                      mot_gt: Sequence[Path] = (), bench_objects: int = 50,
                      peers: Sequence[str] = PEERS) -> dict:
    """Evaluate our tracker beside the peers on KITTI and / or MOTChallenge ground truth.

    Args:
        label_dir: KITTI ``label_02`` folder (or a folder above one); None for none.
        sequences: KITTI sequence names to use; all when None.
        seed: noise seed.
        noise: the noise model (defaults: the issue's default noise).
        config: our tracker's config.
        peer: also run the peers.
        mot_gt: MOTChallenge ``gt.txt`` files or sequence folders holding ``gt/gt.txt``.
        bench_objects: objects per frame of the timing benchmark; 0 skips it.
        peers: which peers, from ``peer_trackers.PEERS``.

    Returns:
        ``evaluate_sequences``'s dict plus ``'timing_ms_per_frame'`` (``benchmark``'s dict).

    """
    gts = read_sequences(label_dir, sequences, mot_gt)
    result = evaluate_sequences(gts, seed=seed, noise=noise, config=config, peer=peer,
                                peers=peers)
    if bench_objects > 0:
        result['timing_ms_per_frame'] = benchmark(bench_objects, peer=peer)
    return result
