"""Trackers run on the same detections: ours and the peers, each reporting ids per frame.

Peers: supervision's ``ByteTrack`` (``bytetrack``) and, from the ``trackers`` package (Roboflow,
Apache-2.0), ``sort``, ``ocsort``, ``cbiou`` and ``botsort`` (BoT-SORT without its image-based
camera-motion compensation: the evaluation has no images). Every peer runs with its defaults and
the sequence's frame rate; they are class-agnostic (one track may take detections of any class),
as they are used in practice; ours is class-aware.
"""

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple
import warnings

import numpy as np

from seg_perception.tools.tracking_eval.detection_noise import FrameDetections, to_segments
from seg_perception.tracking import Tracker, TrackerConfig

OURS = 'seg_perception'
#: supervision's ByteTrack, the first peer (kept under its old name).
PEER = 'bytetrack'
#: Peers from the ``trackers`` package: name -> (class name, constructor arguments).
TRACKERS_PACKAGE_PEERS: Dict[str, Tuple[str, dict]] = {
    'sort': ('SORTTracker', {}),
    'ocsort': ('OCSORTTracker', {}),
    'cbiou': ('CBIoUTracker', {}),
    'botsort': ('BoTSORTTracker', {'enable_cmc': False}),
}
PEERS = (PEER,) + tuple(TRACKERS_PACKAGE_PEERS)
#: A runner takes a sequence's detections and frame rate and returns one output per frame.
Runner = Callable[[Sequence[FrameDetections], float], List['TrackerOutput']]


@dataclass(frozen=True)
class TrackerOutput:
    """What a tracker reported for one frame: tracked boxes and their ids.

    Attributes:
        boxes: (k, 4) float64 pixels.
        ids: (k,) int64 track ids (>= 1).
        classes: (k,) int64 canonical class id of each box (that of the detection it
            reported), or None when unknown (then it cannot be scored per class).

    """

    boxes: np.ndarray
    ids: np.ndarray
    classes: Optional[np.ndarray] = None


def run_ours(frames: Sequence[FrameDetections], fps: float,
             config: Optional[TrackerConfig] = None) -> List[TrackerOutput]:
    """Run ``seg_perception.tracking.Tracker`` over a sequence (frame k stamped k / fps s)."""
    tracker = Tracker(config)
    out = []
    for k, detections in enumerate(frames):
        ids = np.array(tracker.update(to_segments(detections), _stamp_ns(k, fps)),
                       dtype=np.int64).reshape(-1)
        tracked = ids > 0
        out.append(TrackerOutput(boxes=detections.boxes[tracked], ids=ids[tracked],
                                 classes=detections.classes[tracked]))
    return out


def run_bytetrack(frames: Sequence[FrameDetections], fps: float) -> List[TrackerOutput]:
    """Run supervision's ``ByteTrack`` (defaults, frame rate set) over a sequence."""
    sv = _import_supervision()
    tracker = _new_bytetrack(sv, fps)
    out = []
    for detections in frames:
        tracked = tracker.update_with_detections(_sv_detections(sv, detections))
        out.append(_from_sv(tracked))
    return out


def run_trackers_peer(name: str, frames: Sequence[FrameDetections],
                      fps: float) -> List[TrackerOutput]:
    """Run a peer of ``TRACKERS_PACKAGE_PEERS`` (defaults, frame rate ``fps``) over a sequence.

    Raises:
        ImportError: the ``trackers`` package is not installed.
        KeyError: ``name`` is not one of ``TRACKERS_PACKAGE_PEERS``.

    """
    sv = _import_supervision()
    tracker = new_trackers_peer(name, fps)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for detections in frames:
            tracked = tracker.update(_sv_detections(sv, detections))
            # Its ids start at 0 (-1: no track); ours and trackeval's inputs start at 1.
            out.append(_from_sv(tracked, id_offset=1))
    return out


def new_trackers_peer(name: str, fps: float):
    """Return a new tracker of the ``trackers`` package by its short name (see the table)."""
    class_name, kwargs = TRACKERS_PACKAGE_PEERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import trackers
        return getattr(trackers, class_name)(frame_rate=fps, **kwargs)


def peer_runners(names: Sequence[str] = PEERS) -> Tuple[Dict[str, Runner], List[str]]:
    """Return the runners of the peers that are installed, and a note per peer that is not.

    Args:
        names: peers wanted, from ``PEERS``.

    Raises:
        ValueError: an unknown name.

    """
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ValueError(f'unknown peers {unknown}; known: {list(PEERS)}')
    runners: Dict[str, Runner] = {}
    notes: List[str] = []
    for name in names:
        try:
            if name == PEER:
                _import_supervision()
                runners[name] = run_bytetrack
            else:
                new_trackers_peer(name, 10.0)
                runners[name] = _bind_peer(name)
        except ImportError as error:
            hint = '"supervision>=0.30,<0.31"' if name == PEER else '--no-deps trackers==2.6.1'
            notes.append(f'{name} not run: {error} (pip install {hint})')
    return runners, notes


def _bind_peer(name: str) -> Runner:
    return lambda frames, fps: run_trackers_peer(name, frames, fps)


def _from_sv(tracked, id_offset: int = 0) -> TrackerOutput:
    """Keep the boxes of ``sv.Detections`` that carry a track id (>= 0), ids + ``id_offset``."""
    ids = np.asarray(tracked.tracker_id if tracked.tracker_id is not None else (),
                     dtype=np.int64).reshape(-1)
    keep = ids >= 0
    boxes = np.asarray(tracked.xyxy, dtype=np.float64).reshape(-1, 4)[keep]
    classes = None if tracked.class_id is None else \
        np.asarray(tracked.class_id, dtype=np.int64).reshape(-1)[keep]
    return TrackerOutput(boxes=boxes, ids=ids[keep] + id_offset, classes=classes)


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
