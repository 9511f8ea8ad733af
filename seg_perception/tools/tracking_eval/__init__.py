"""Tracking scores of our tracker and peer trackers on the same noisy detections.

Detections are made from tracking ground truth (KITTI ``label_02`` files, MOTChallenge
``gt.txt``) with seeded noise: box edges jittered, boxes missed, false boxes added, scores drawn
so that false boxes tend to score lower; the ground-truth ids are never given to the trackers.
Every tracker gets identical detections; each reports, per frame, the detections it assigned to a
track, with that track's id; ``trackeval`` scores them (HOTA, IDF1, MOTA, id switches; IDF1 and
MOTA match at IoU 0.5): all classes together (class-agnostic), and per class (Car, Pedestrian,
Cyclist) and per sequence, sequences and classes combined as trackeval combines them.

KITTI classes map to canonical ones as: Car and Van -> ``car`` (Cityscapes, whose taxonomy ours
follows, counts vans as cars), Truck -> ``truck``, Pedestrian -> ``person``, Cyclist -> ``rider``
(the person on the bicycle is what a panoptic model labels as one instance with the cyclist's
motion). DontCare, Misc, Tram and Person_sitting rows are dropped. MOTChallenge rows with
``conf`` 0 or a class other than pedestrian (1) are dropped (its own evaluation protocol).

Modules: ``ground_truth`` (readers), ``detection_noise`` (the noise model), ``peer_trackers``
(ours and the peers), ``tracking_scores`` (trackeval), ``timing`` (the speed benchmark) and
``evaluation`` (running and combining many sequences) and ``command`` (the command line).
"""

from seg_perception.tools.tracking_eval.command import add_arguments, format_table, main, run
from seg_perception.tools.tracking_eval.detection_noise import (
    FrameDetections, make_detections, NoiseConfig, to_segments)
from seg_perception.tools.tracking_eval.evaluation import (
    evaluate_sequences, evaluate_tracking, read_sequences, sequence_detections,
    sequence_scores)
from seg_perception.tools.tracking_eval.ground_truth import (
    find_kitti_sequences, KITTI_CLASSES, KITTI_FPS, read_kitti_labels, read_mot_gt, SequenceGT)
from seg_perception.tools.tracking_eval.peer_trackers import (
    OURS, PEER, peer_runners, PEERS, run_bytetrack, run_ours, run_trackers_peer,
    TrackerOutput)
from seg_perception.tools.tracking_eval.timing import benchmark
from seg_perception.tools.tracking_eval.tracking_scores import (
    best_of, combine, score, score_classes, SCORED_CLASSES, sequence_results, trackeval_data)

__all__ = [
    'add_arguments', 'benchmark', 'best_of', 'combine', 'evaluate_sequences', 'evaluate_tracking',
    'find_kitti_sequences', 'format_table', 'FrameDetections', 'KITTI_CLASSES', 'KITTI_FPS',
    'main', 'make_detections', 'NoiseConfig', 'OURS', 'PEER', 'peer_runners', 'PEERS',
    'read_kitti_labels', 'read_mot_gt', 'read_sequences', 'run', 'run_bytetrack', 'run_ours',
    'run_trackers_peer', 'score', 'score_classes', 'SCORED_CLASSES', 'sequence_detections',
    'sequence_results', 'sequence_scores', 'SequenceGT', 'to_segments', 'trackeval_data',
    'TrackerOutput',
]
