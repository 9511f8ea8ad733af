"""Tracking scores of our tracker and supervision's ByteTrack on the same noisy detections.

Detections are made from tracking ground truth (KITTI ``label_02`` files, MOTChallenge
``gt.txt``) with seeded noise: box edges jittered, boxes missed, false boxes added, scores drawn
so that false boxes tend to score lower; the ground-truth ids are never given to the trackers.
Both trackers get identical detections; each reports, per frame, the detections it assigned to a
track, with that track's id; ``trackeval`` scores them (HOTA, IDF1, MOTA, id switches; IDF1 and
MOTA match at IoU 0.5). All classes are scored together (class-agnostic scoring).

KITTI classes map to canonical ones as: Car and Van -> ``car`` (Cityscapes, whose taxonomy ours
follows, counts vans as cars), Truck -> ``truck``, Pedestrian -> ``person``, Cyclist -> ``rider``
(the person on the bicycle is what a panoptic model labels as one instance with the cyclist's
motion). DontCare, Misc, Tram and Person_sitting rows are dropped. MOTChallenge rows with
``conf`` 0 or a class other than pedestrian (1) are dropped (its own evaluation protocol).
"""

import argparse
import configparser
import contextlib
from dataclasses import asdict, dataclass, field, replace
import io
import json
from pathlib import Path
import time
from typing import Dict, List, Optional, Sequence, Tuple
import warnings
import zlib

import numpy as np

from seg_perception import taxonomy
from seg_perception.structures import Segment
from seg_perception.tracking import Tracker, TrackerConfig
from seg_perception.tracking.association import iou_matrix

KITTI_FPS = 10.0
KITTI_CLASSES: Dict[str, str] = {
    'Car': 'car', 'Van': 'car', 'Truck': 'truck', 'Pedestrian': 'person', 'Cyclist': 'rider',
}
#: KITTI ``occluded`` value of a largely occluded object.
KITTI_LARGELY_OCCLUDED = 2
MOT_PEDESTRIAN = 1
#: A MOTChallenge box less visible than this counts as largely occluded.
MOT_LARGELY_OCCLUDED_VISIBILITY = 0.25
OURS = 'seg_perception'
PEER = 'bytetrack'


@dataclass(frozen=True)
class SequenceGT:
    """Ground truth of one sequence, one row per labelled box.

    Attributes:
        name: sequence name (file stem or folder name).
        frames: (K,) int64 frame index of each row, 0-based.
        track_ids: (K,) int64 ground-truth track id.
        classes: (K,) int64 canonical class id.
        boxes: (K, 4) float64 ``x_min, y_min, x_max, y_max`` pixels.
        occluded: (K,) bool, True when the box is largely occluded.
        num_frames: number of frames of the sequence (frames without boxes included).
        fps: frame rate, Hz; frame k is stamped k / fps seconds.
        image_size: (width, height) pixels, where false boxes are placed.
        boxes_3d: KITTI only (else None): (K, 7) float64 ``h, w, l`` (m), ``X, Y, Z`` (m, the
            3D box's bottom centre in the rectified camera-0 frame) and ``rotation_y`` (rad).
        truncated: KITTI only (else None): (K,) float64 truncation, 0 (none) to 1.

    """

    name: str
    frames: np.ndarray
    track_ids: np.ndarray
    classes: np.ndarray
    boxes: np.ndarray
    occluded: np.ndarray
    num_frames: int
    fps: float
    image_size: Tuple[float, float]
    boxes_3d: Optional[np.ndarray] = None
    truncated: Optional[np.ndarray] = None


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


@dataclass(frozen=True)
class TrackerOutput:
    """What a tracker reported for one frame: tracked boxes and their ids.

    Attributes:
        boxes: (k, 4) float64 pixels.
        ids: (k,) int64 track ids (>= 1).

    """

    boxes: np.ndarray
    ids: np.ndarray


def read_kitti_labels(path: Path) -> SequenceGT:
    """Read one KITTI tracking ``label_02`` file (``frame track_id type ... x1 y1 x2 y2 ...``).

    Args:
        path: e.g. ``training/label_02/0001.txt``; an optional score column is ignored.

    Returns:
        the sequence's boxes of the classes in ``KITTI_CLASSES``; frames 0..last labelled frame;
        with their 3D boxes and truncation.

    """
    path = Path(path)
    rows, extra = [], []
    max_x, max_y, last_frame = 0.0, 0.0, -1
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 17:
                raise ValueError(
                    f'{path}:{number}: expected at least 17 fields, got {len(fields)}')
            frame, track_id, kind = int(fields[0]), int(fields[1]), fields[2]
            x1, y1, x2, y2 = (float(v) for v in fields[6:10])
            last_frame = max(last_frame, frame)
            max_x, max_y = max(max_x, x2), max(max_y, y2)
            if kind not in KITTI_CLASSES:
                continue
            rows.append((frame, track_id, taxonomy.class_id(KITTI_CLASSES[kind]), x1, y1, x2, y2,
                         int(fields[4]) == KITTI_LARGELY_OCCLUDED))
            extra.append([float(v) for v in fields[10:17]] + [float(fields[3])])
    gt = _sequence(path.stem, rows, last_frame + 1, KITTI_FPS,
                   (float(np.ceil(max_x)), float(np.ceil(max_y))))
    extra = np.array(extra, dtype=np.float64).reshape(-1, 8)
    return replace(gt, boxes_3d=extra[:, :7].copy(), truncated=extra[:, 7].copy())


def read_mot_gt(path: Path, fps: Optional[float] = None) -> SequenceGT:
    """Read a MOTChallenge ``gt.txt`` (``frame, id, left, top, width, height, conf, class, vis``).

    Args:
        path: the ``gt.txt`` file; ``../seqinfo.ini`` (frame rate, image size, length) is read
            when it exists.
        fps: frame rate, Hz, overriding seqinfo.ini (default 30 when neither says).

    Returns:
        the pedestrian boxes with ``conf`` != 0; frames renumbered from 0.

    """
    path = Path(path)
    info = _read_seqinfo(path.parent.parent / 'seqinfo.ini')
    rows = []
    max_x, max_y, last_frame = 0.0, 0.0, 0
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = [v.strip() for v in line.replace(',', ' ').split()]
            if not fields:
                continue
            if len(fields) < 6:
                raise ValueError(f'{path}:{number}: expected at least 6 fields, got {len(fields)}')
            frame, track_id = int(float(fields[0])), int(float(fields[1]))
            left, top, width, height = (float(v) for v in fields[2:6])
            conf = float(fields[6]) if len(fields) > 6 else 1.0
            kind = int(float(fields[7])) if len(fields) > 7 else -1
            visibility = float(fields[8]) if len(fields) > 8 else 1.0
            last_frame = max(last_frame, frame)
            max_x, max_y = max(max_x, left + width), max(max_y, top + height)
            if conf == 0.0 or kind not in (MOT_PEDESTRIAN, -1):
                continue
            rows.append((frame - 1, track_id, taxonomy.class_id('person'), left, top,
                         left + width, top + height,
                         visibility < MOT_LARGELY_OCCLUDED_VISIBILITY))
    rate = fps or float(info.get('framerate', 30.0))
    size = (float(info.get('imwidth', np.ceil(max_x))),
            float(info.get('imheight', np.ceil(max_y))))
    length = int(info.get('seqlength', last_frame))
    name = path.parent.parent.name if path.parent.name == 'gt' else path.stem
    return _sequence(name, rows, length, rate, size)


def _read_seqinfo(path: Path) -> Dict[str, str]:
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.read(path)
    return {key.lower(): value for key, value in parser['Sequence'].items()} \
        if parser.has_section('Sequence') else {}


def _sequence(name: str, rows: List[tuple], num_frames: int, fps: float,
              image_size: Tuple[float, float]) -> SequenceGT:
    table = np.array([row[:7] for row in rows], dtype=np.float64).reshape(-1, 7)
    return SequenceGT(
        name=name, frames=table[:, 0].astype(np.int64), track_ids=table[:, 1].astype(np.int64),
        classes=table[:, 2].astype(np.int64), boxes=table[:, 3:7].copy(),
        occluded=np.array([row[7] for row in rows], dtype=bool), num_frames=int(num_frames),
        fps=float(fps), image_size=image_size)


def find_kitti_sequences(label_dir: Path,
                         sequences: Optional[Sequence[str]] = None) -> List[Path]:
    """Return the label files to evaluate, sorted by name.

    Args:
        label_dir: a ``label_02`` folder, or any folder above one (the first ``label_02`` found
            below it, in sorted order, is used).
        sequences: sequence names (file stems, e.g. ``0001``); all when None.

    """
    label_dir = Path(label_dir)
    if not label_dir.is_dir():
        raise FileNotFoundError(f'no such folder: {label_dir}')
    if not any(label_dir.glob('*.txt')):
        found = sorted(p for p in label_dir.rglob('label_02') if p.is_dir())
        if not found:
            raise FileNotFoundError(f'no KITTI label files (*.txt or label_02/) in {label_dir}')
        label_dir = found[0]
    files = sorted(label_dir.glob('*.txt'))
    if sequences:
        by_name = {f.stem: f for f in files}
        missing = [s for s in sequences if s not in by_name]
        if missing:
            raise FileNotFoundError(
                f'sequences {missing} not in {label_dir} (has {sorted(by_name)})')
        files = [by_name[s] for s in sequences]
    return files


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


def run_ours(frames: Sequence[FrameDetections], fps: float,
             config: Optional[TrackerConfig] = None) -> List[TrackerOutput]:
    """Run ``seg_perception.tracking.Tracker`` over a sequence (frame k stamped k / fps s)."""
    tracker = Tracker(config)
    out = []
    for k, detections in enumerate(frames):
        ids = np.array(tracker.update(to_segments(detections), _stamp_ns(k, fps)),
                       dtype=np.int64).reshape(-1)
        tracked = ids > 0
        out.append(TrackerOutput(boxes=detections.boxes[tracked], ids=ids[tracked]))
    return out


def run_bytetrack(frames: Sequence[FrameDetections], fps: float) -> List[TrackerOutput]:
    """Run supervision's ``ByteTrack`` (defaults, frame rate set) over a sequence."""
    sv = _import_supervision()
    tracker = _new_bytetrack(sv, fps)
    out = []
    for detections in frames:
        tracked = tracker.update_with_detections(_sv_detections(sv, detections))
        out.append(TrackerOutput(boxes=np.asarray(tracked.xyxy, dtype=np.float64).reshape(-1, 4),
                                 ids=np.asarray(tracked.tracker_id, dtype=np.int64).reshape(-1)))
    return out


def _import_supervision():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import supervision
    return supervision


def _new_bytetrack(sv, fps: float):
    """Return ``sv.ByteTrack`` with its defaults and frame rate ``fps``."""
    with warnings.catch_warnings():
        # It warns on every construction that it is deprecated (gone in supervision 0.31).
        warnings.simplefilter('ignore', FutureWarning)
        return sv.ByteTrack(frame_rate=fps)


def _sv_detections(sv, detections: FrameDetections):
    return sv.Detections(xyxy=detections.boxes.astype(np.float32).reshape(-1, 4),
                         confidence=detections.scores.astype(np.float32),
                         class_id=detections.classes.astype(int))


def _stamp_ns(frame: int, fps: float) -> int:
    return int(round(frame * 1e9 / fps))


def trackeval_data(gt: SequenceGT, outputs: Sequence[TrackerOutput]) -> dict:
    """Build the per-sequence input of trackeval's metrics (similarity = box IoU).

    Args:
        gt: the sequence's ground truth.
        outputs: one ``TrackerOutput`` per frame.

    Returns:
        the dict trackeval's ``HOTA``, ``CLEAR`` and ``Identity`` ``eval_sequence`` take.

    """
    if len(outputs) != gt.num_frames:
        raise ValueError(f'{len(outputs)} tracker frames for {gt.num_frames} frames')
    gt_lookup = {v: i for i, v in enumerate(np.unique(gt.track_ids).tolist())}
    all_ids = np.concatenate([o.ids for o in outputs]) if outputs else np.zeros(0, np.int64)
    trk_lookup = {v: i for i, v in enumerate(np.unique(all_ids).tolist())}
    order = np.argsort(gt.frames, kind='stable')
    starts = np.searchsorted(gt.frames[order], np.arange(gt.num_frames + 1))
    gt_ids, trk_ids, similarity = [], [], []
    for frame, output in enumerate(outputs):
        rows = order[starts[frame]:starts[frame + 1]]
        gt_ids.append(np.array([gt_lookup[v] for v in gt.track_ids[rows].tolist()], dtype=int))
        trk_ids.append(np.array([trk_lookup[v] for v in output.ids.tolist()], dtype=int))
        similarity.append(iou_matrix(gt.boxes[rows], output.boxes))
    return {
        'num_timesteps': gt.num_frames, 'num_gt_ids': len(gt_lookup),
        'num_tracker_ids': len(trk_lookup), 'num_gt_dets': int(gt.frames.shape[0]),
        'num_tracker_dets': int(all_ids.shape[0]), 'gt_ids': gt_ids, 'tracker_ids': trk_ids,
        'similarity_scores': similarity,
    }


def score(per_sequence: Sequence[dict]) -> Dict[str, float]:
    """Score sequences with trackeval and combine them (as trackeval combines sequences).

    Args:
        per_sequence: ``trackeval_data`` of each sequence.

    Returns:
        HOTA, DetA, AssA, IDF1, MOTA (percent), IDSW, FP, FN, IDs (number of tracker ids).

    """
    # trackeval's package import prints about optional dataset readers whose dependencies
    # (pycocotools, ...) the metrics do not need; keep that off our stdout.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError as error:
        raise ImportError(
            f'evaluate tracking scores with trackeval ({error}); install it with '
            '"pip install --no-deps trackeval==1.3.0" (it only needs numpy and scipy)') from error

    metrics = (HOTA(), CLEAR({'THRESHOLD': 0.5, 'PRINT_CONFIG': False}),
               Identity({'THRESHOLD': 0.5, 'PRINT_CONFIG': False}))
    combined = {}
    for metric in metrics:
        results = {str(i): metric.eval_sequence(data) for i, data in enumerate(per_sequence)}
        combined.update(metric.combine_sequences(results))
    return {
        'HOTA': 100.0 * float(np.mean(combined['HOTA'])),
        'DetA': 100.0 * float(np.mean(combined['DetA'])),
        'AssA': 100.0 * float(np.mean(combined['AssA'])),
        'IDF1': 100.0 * float(combined['IDF1']),
        'MOTA': 100.0 * float(combined['MOTA']),
        'IDSW': int(combined['IDSW']),
        'FP': int(combined['CLR_FP']),
        'FN': int(combined['CLR_FN']),
        'IDs': int(sum(data['num_tracker_ids'] for data in per_sequence)),
    }


def benchmark(num_objects: int = 50, num_frames: int = 100, fps: float = KITTI_FPS,
              seed: int = 0, peer: bool = True, repeats: int = 3) -> Dict[str, float]:
    """Time one tracker update per frame with ``num_objects`` moving boxes (milliseconds).

    Boxes move at constant speed across a 1242x375 image with 2 % edge noise and no misses, so
    every frame has ``num_objects`` detections and about as many tracks. Inputs are built before
    timing. Each tracker runs the sequence ``repeats`` times from scratch; the time is the
    median per frame (after a 10-frame warm-up) of its fastest run: medians and the fastest run
    are the least disturbed by other processes on a shared machine.

    Returns:
        ``{'objects': n, 'seg_perception': ms, 'bytetrack': ms}`` (no peer key when the peer is
        off or not installed).

    """
    if num_frames <= 10 or num_objects < 1 or repeats < 1:
        raise ValueError('benchmark needs num_frames > 10, num_objects >= 1, repeats >= 1')
    rng = np.random.default_rng(seed)
    size = rng.uniform((30.0, 30.0), (120.0, 90.0), size=(num_objects, 2))
    start = rng.uniform((0.0, 0.0), (1242.0, 375.0) - size, size=(num_objects, 2))
    speed = rng.uniform(-40.0, 40.0, size=(num_objects, 2))
    frames = []
    for k in range(num_frames):
        corner = start + speed * k / fps
        boxes = np.concatenate((corner, corner + size), axis=1)
        boxes = boxes + rng.normal(0.0, 0.02, size=boxes.shape) * np.tile(size, 2)
        frames.append(FrameDetections(
            boxes=_ordered(boxes), scores=rng.uniform(0.5, 1.0, num_objects),
            classes=np.full(num_objects, taxonomy.class_id('car'), dtype=np.int64),
            gt_rows=np.arange(num_objects)))
    stamps = [_stamp_ns(k, fps) for k in range(num_frames)]
    segments = [to_segments(f) for f in frames]

    def ours(tracker):
        return lambda k: tracker.update(segments[k], stamps[k])

    result: Dict[str, float] = {'objects': float(num_objects)}
    result[OURS] = min(_time_loop(ours(Tracker()), num_frames) for _ in range(repeats))
    if peer:
        try:
            sv = _import_supervision()
        except ImportError:
            return result
        sv_frames = [_sv_detections(sv, f) for f in frames]

        def theirs(tracker):
            return lambda k: tracker.update_with_detections(sv_frames[k])

        result[PEER] = min(_time_loop(theirs(_new_bytetrack(sv, fps)), num_frames)
                           for _ in range(repeats))
    return result


def _time_loop(step, num_frames: int, warmup: int = 10) -> float:
    """Return the median time of ``step(k)`` over frames ``warmup..num_frames-1``, ms."""
    for k in range(warmup):
        step(k)
    times = []
    for k in range(warmup, num_frames):
        begin = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - begin)
    return float(np.median(times)) * 1000.0


@dataclass
class _Collected:
    data: Dict[str, List[dict]] = field(default_factory=dict)
    per_sequence: Dict[str, Dict[str, dict]] = field(default_factory=dict)


def evaluate_sequences(sequences: Sequence[SequenceGT], seed: int = 0,
                       noise: NoiseConfig = NoiseConfig(),
                       config: Optional[TrackerConfig] = None,
                       peer: bool = True) -> dict:
    """Run both trackers on noisy detections of each sequence and score them.

    Args:
        sequences: ground truth of each sequence.
        seed: seed of the noise; a sequence's detections depend only on it and the name.
        noise: the noise model.
        config: our tracker's config (defaults when None).
        peer: also run supervision's ByteTrack (skipped with a note if not installed).

    Returns:
        ``{'sequences', 'seed', 'noise', 'trackers': {name: scores}, 'per_sequence':
        {sequence: {name: scores}}, 'notes'}``; scores as ``score`` returns them.

    """
    if not sequences:
        raise ValueError('no sequences to evaluate')
    collected = _Collected()
    notes = []
    runners = {OURS: lambda frames, fps: run_ours(frames, fps, config)}
    if peer:
        try:
            _import_supervision()
            runners[PEER] = run_bytetrack
        except ImportError as error:
            notes.append(f'{PEER} not run: {error} (pip install "supervision>=0.30,<0.31")')
    for gt in sequences:
        rng = np.random.default_rng([seed, zlib.crc32(gt.name.encode())])
        frames = make_detections(gt, noise, rng)
        for name, runner in runners.items():
            data = trackeval_data(gt, runner(frames, gt.fps))
            collected.data.setdefault(name, []).append(data)
            collected.per_sequence.setdefault(gt.name, {})[name] = score([data])
    return {
        'sequences': [gt.name for gt in sequences], 'seed': seed, 'noise': asdict(noise),
        'trackers': {name: score(data) for name, data in collected.data.items()},
        'per_sequence': collected.per_sequence, 'notes': notes,
    }


def evaluate_tracking(label_dir: Optional[Path] = None, sequences: Optional[Sequence[str]] = None,
                      seed: int = 0, noise: NoiseConfig = NoiseConfig(),
                      config: Optional[TrackerConfig] = None, peer: bool = True,
                      mot_gt: Sequence[Path] = (), bench_objects: int = 50) -> dict:
    """Evaluate our tracker beside ByteTrack on KITTI and / or MOTChallenge ground truth.

    Args:
        label_dir: KITTI ``label_02`` folder (or a folder above one); None for none.
        sequences: KITTI sequence names to use; all when None.
        seed: noise seed.
        noise: the noise model (defaults: the issue's default noise).
        config: our tracker's config.
        peer: also run supervision's ByteTrack.
        mot_gt: MOTChallenge ``gt.txt`` files or sequence folders holding ``gt/gt.txt``.
        bench_objects: objects per frame of the timing benchmark; 0 skips it.

    Returns:
        ``evaluate_sequences``'s dict plus ``'timing_ms_per_frame'`` (``benchmark``'s dict).

    """
    gts = []
    if label_dir is not None:
        gts.extend(read_kitti_labels(path) for path in find_kitti_sequences(label_dir, sequences))
    for path in mot_gt:
        path = Path(path)
        gts.append(read_mot_gt(path / 'gt' / 'gt.txt' if path.is_dir() else path))
    result = evaluate_sequences(gts, seed=seed, noise=noise, config=config, peer=peer)
    if bench_objects > 0:
        result['timing_ms_per_frame'] = benchmark(bench_objects, peer=peer)
    return result


def format_table(result: dict) -> str:
    """Render ``evaluate_tracking``'s result as a text table."""
    columns = ('HOTA', 'DetA', 'AssA', 'IDF1', 'MOTA', 'IDSW', 'FP', 'FN', 'IDs')
    lines = [f'sequences: {" ".join(result["sequences"])}   seed: {result["seed"]}',
             f'{"tracker":<16}' + ''.join(f'{c:>8}' for c in columns)]
    for name, scores in result['trackers'].items():
        lines.append(f'{name:<16}' + ''.join(
            f'{scores[c]:>8.1f}' if isinstance(scores[c], float) else f'{scores[c]:>8d}'
            for c in columns))
    timing = result.get('timing_ms_per_frame')
    if timing:
        per = ', '.join(f'{k} {v:.3f} ms' for k, v in timing.items() if k != 'objects')
        lines.append(f'time per frame with {int(timing["objects"])} objects: {per}')
    lines.extend(f'note: {note}' for note in result.get('notes', ()))
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate tracking``."""
    parser.add_argument('--kitti-labels', type=Path, default=None,
                        help='KITTI tracking label_02 folder (or a folder above one)')
    parser.add_argument('--sequences', nargs='+', default=None, metavar='S',
                        help='KITTI sequences to use (file stems, e.g. 0001); default all')
    parser.add_argument('--mot-gt', nargs='+', type=Path, default=(), metavar='PATH',
                        help='MOTChallenge gt.txt files or sequence folders')
    parser.add_argument('--seed', type=int, default=0, help='seed of the detection noise')
    parser.add_argument('--no-peer', action='store_true',
                        help="do not run supervision's ByteTrack")
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
                               bench_objects=args.bench_objects)
    print(format_table(result))
    if args.json:
        print(json.dumps(result))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Stand-alone entry point (``python -m seg_perception.tools.tracking_eval``)."""
    parser = argparse.ArgumentParser(prog='seg-perception evaluate tracking',
                                     description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    raise SystemExit(main())
