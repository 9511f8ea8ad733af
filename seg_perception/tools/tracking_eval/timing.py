"""Time per frame of tracker updates on synthetic moving boxes."""

import time
from typing import Dict, Sequence
import warnings

import numpy as np

from seg_perception import taxonomy
from seg_perception.tools.tracking_eval.detection_noise import (
    _ordered, FrameDetections, to_segments)
from seg_perception.tools.tracking_eval.ground_truth import KITTI_FPS
from seg_perception.tools.tracking_eval.peer_trackers import (
    _import_supervision, _new_bytetrack, _stamp_ns, _sv_detections, new_trackers_peer, OURS,
    PEER)
from seg_perception.tracking import Tracker


def benchmark(num_objects: int = 50, num_frames: int = 100, fps: float = KITTI_FPS,
              seed: int = 0, peer: bool = True, repeats: int = 3,
              peers: Sequence[str] = (PEER,)) -> Dict[str, float]:
    """Time one tracker update per frame with ``num_objects`` moving boxes (milliseconds).

    Boxes move at constant speed across a 1242x375 image with 2 % edge noise and no misses, so
    every frame has ``num_objects`` detections and about as many tracks. Inputs are built before
    timing. Each tracker runs the sequence ``repeats`` times from scratch; the time is the
    median per frame (after a 10-frame warm-up) of its fastest run: medians and the fastest run
    are the least disturbed by other processes on a shared machine.

    Args:
        num_objects: boxes per frame.
        num_frames: frames per run (the first 10 are not timed).
        fps: frame rate of the stamps, Hz.
        seed: seed of the boxes.
        peer: also time the peers.
        repeats: runs per tracker.
        peers: which peers (``peer_trackers.PEERS``); those not installed are left out.

    Returns:
        ``{'objects': n, 'seg_perception': ms, 'bytetrack': ms, ...}`` (a key per peer timed).

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
    if not peer:
        return result
    try:
        sv = _import_supervision()
    except ImportError:
        return result
    sv_frames = [_sv_detections(sv, f) for f in frames]

    def bytetrack(tracker):
        return lambda k: tracker.update_with_detections(sv_frames[k])

    def other(tracker):
        return lambda k: tracker.update(sv_frames[k])

    for name in peers:
        try:
            if name == PEER:
                steps = [bytetrack(_new_bytetrack(sv, fps)) for _ in range(repeats)]
            else:
                steps = [other(new_trackers_peer(name, fps)) for _ in range(repeats)]
        except ImportError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            result[name] = min(_time_loop(step, num_frames) for step in steps)
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
