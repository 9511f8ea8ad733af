"""Tracking ground truth: KITTI ``label_02`` and MOTChallenge ``gt.txt`` readers.

KITTI classes map to canonical ones as: Car and Van -> ``car`` (Cityscapes, whose taxonomy ours
follows, counts vans as cars), Truck -> ``truck``, Pedestrian -> ``person``, Cyclist -> ``rider``
(the person on the bicycle is what a panoptic model labels as one instance with the cyclist's
motion). DontCare, Misc, Tram and Person_sitting rows are dropped. MOTChallenge rows with
``conf`` 0 or a class other than pedestrian (1) are dropped (its own evaluation protocol).
"""

import configparser
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from seg_perception import taxonomy

KITTI_FPS = 10.0
KITTI_CLASSES: Dict[str, str] = {
    'Car': 'car', 'Van': 'car', 'Truck': 'truck', 'Pedestrian': 'person', 'Cyclist': 'rider',
}
#: KITTI ``occluded`` value of a largely occluded object.
KITTI_LARGELY_OCCLUDED = 2
MOT_PEDESTRIAN = 1
#: A MOTChallenge box less visible than this counts as largely occluded.
MOT_LARGELY_OCCLUDED_VISIBILITY = 0.25


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
