"""Semantic segmentation scores (IoU per class, mIoU, pixel accuracy) against ground truth.

Predictions are PNGs of canonical class ids (as the ``semantic`` topic and ``drive --out`` write
them), or a result bag of ``process``: its ``semantic`` images, in stamp order, are paired with the
ground-truth files in name order (the order ``make-bag`` stamps an image folder in). Ground truth
comes in Cityscapes format (``*_gtFine_labelIds.png`` or ``*_gtFine_labelTrainIds.png``) or CamVid
format (11 class indices, 11 = void). A prediction of another size than its ground truth is
resized to it with nearest-neighbour interpolation.
"""

import argparse
from dataclasses import dataclass
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from seg_perception import label_sets, taxonomy
from seg_perception.ros import bag_io, result_bag as result_bag_io

CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence',
                  'Car', 'Pedestrian', 'Bicyclist')
CAMVID_VOID = 11

# Canonical class -> CamVid 11-class name. Lane markings and crosswalks are painted road, which
# CamVid's 11-class set labels Road.
CANONICAL_TO_CAMVID = {
    'road': 'Road', 'lane_marking': 'Road', 'crosswalk': 'Road', 'sidewalk': 'Pavement',
    'building': 'Building', 'wall': 'Building', 'fence': 'Fence', 'pole': 'Pole',
    'traffic_light': 'SignSymbol', 'traffic_sign': 'SignSymbol', 'vegetation': 'Tree',
    'terrain': 'Tree', 'sky': 'Sky', 'person': 'Pedestrian', 'rider': 'Bicyclist',
    'motorcycle': 'Bicyclist', 'bicycle': 'Bicyclist', 'car': 'Car', 'truck': 'Car',
    'bus': 'Car', 'train': 'Car',
}


@dataclass(frozen=True)
class SemanticScores:
    """Scores accumulated over a set of frames.

    Attributes:
        class_names: name of each evaluated class, in confusion-matrix order.
        confusion: (C, C + 1) int64; rows = ground truth, columns = prediction, the last
            column counting pixels predicted as no evaluated class.
        frames: number of frames scored.

    """

    class_names: Tuple[str, ...]
    confusion: np.ndarray
    frames: int

    def iou(self) -> np.ndarray:
        """(C,) float IoU per class; NaN for a class neither predicted nor in the ground truth."""
        true_positive = np.diag(self.confusion).astype(np.float64)
        predicted = self.confusion[:, :len(self.class_names)].sum(0)
        union = predicted + self.confusion.sum(1) - true_positive
        with np.errstate(invalid='ignore', divide='ignore'):
            return np.where(union > 0, true_positive / union, np.nan)

    def present(self) -> np.ndarray:
        """(C,) bool: the class occurs in the ground truth."""
        return self.confusion.sum(1) > 0

    def mean_iou(self) -> float:
        """Mean IoU over the classes present in the ground truth."""
        return float(np.nanmean(self.iou()[self.present()])) if self.present().any() else 0.0

    def pixel_accuracy(self) -> float:
        """Fraction of labelled ground-truth pixels predicted correctly."""
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    def as_dict(self) -> Dict:
        """JSON-ready summary."""
        ious = self.iou()
        return {
            'frames': self.frames,
            'mean_iou': self.mean_iou(),
            'pixel_accuracy': self.pixel_accuracy(),
            'iou': {name: (None if np.isnan(v) or not present else float(v))
                    for name, v, present in zip(self.class_names, ious, self.present())},
        }


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Return the (C, C + 1) int64 confusion of two (H, W) integer maps of class indices.

    Indices >= num_classes are ignored in the ground truth; in the prediction they count as
    wrong (a false negative of the ground-truth class), in the last column.
    """
    valid = gt < num_classes
    gt_valid = gt[valid].astype(np.int64)
    pred_valid = np.minimum(pred[valid].astype(np.int64), num_classes)
    counts = np.bincount(gt_valid * (num_classes + 1) + pred_valid,
                         minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1)


def _camvid_table() -> np.ndarray:
    table = np.full(256, CAMVID_VOID, dtype=np.uint8)
    for name, camvid_name in CANONICAL_TO_CAMVID.items():
        table[taxonomy.class_id(name)] = CAMVID_CLASSES.index(camvid_name)
    return table


def _cityscapes_tables() -> Tuple[Tuple[str, ...], np.ndarray]:
    """Return the 19 evaluated class names and a canonical id -> class index table."""
    names = label_sets.CITYSCAPES_TRAIN_ID_NAMES
    table = np.full(256, len(names), dtype=np.uint8)
    for index, name in enumerate(names):
        table[taxonomy.class_id(name)] = index
    return names, table


def read_label_image(path: Path) -> np.ndarray:
    """Read a single-channel label PNG (uint8 or uint16); raise ValueError if it is not one."""
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise ValueError(f'cannot read label image {path}')
    if labels.ndim != 2:
        raise ValueError(f'{path} must be a single-channel label image, got shape {labels.shape}')
    return labels


def fit_labels(pred: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Resize a label map to ``shape`` (H, W) by nearest pixel-centre sampling, as PIL does."""
    if pred.shape == shape:
        return pred
    return cv2.resize(pred, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST_EXACT)


def _cityscapes_gt_files(gt_dir: Path) -> List[Tuple[Path, bool]]:
    """(ground truth, it holds train ids) of every Cityscapes label file, sorted by name."""
    files = []
    for gt in sorted(gt_dir.rglob('*_gtFine_label*Ids.png'), key=lambda p: p.name):
        train_ids = gt.name.endswith('_gtFine_labelTrainIds.png')
        if train_ids and gt.with_name(gt.name.replace('TrainIds', 'Ids')).exists():
            continue  # labelIds is the reference when both exist
        files.append((gt, train_ids))
    return files


def _ground_truth(gt_dir: Path, data_format: str
                  ) -> Tuple[Tuple[str, ...], np.ndarray, List[Tuple[Path, np.ndarray]]]:
    """Return class names, a canonical id -> class index table, and the ground-truth files.

    Each file comes with its own file value -> class index table; files are sorted by name.
    """
    if data_format == 'cityscapes':
        names, canonical_to_index = _cityscapes_tables()
        label_id_to_index = canonical_to_index[label_sets.cityscapes_label_id_table()]
        train_id_to_index = canonical_to_index[label_sets.cityscapes_train_id_table()]
        files = [(gt, train_id_to_index if train_ids else label_id_to_index)
                 for gt, train_ids in _cityscapes_gt_files(gt_dir)]
    elif data_format == 'camvid':
        names, canonical_to_index = CAMVID_CLASSES, _camvid_table()
        identity = np.arange(256, dtype=np.uint8)
        files = [(gt, identity) for gt in sorted(gt_dir.glob('*.png'))]
    else:
        raise ValueError(f'unknown ground-truth format {data_format!r}: cityscapes or camvid')
    return tuple(names), canonical_to_index, files


def _match_prediction_files(pred_dir: Path, files: List[Tuple[Path, np.ndarray]],
                            data_format: str) -> List[Tuple[object, Path, np.ndarray]]:
    """Pair PNG predictions with ground truth: Cityscapes on the frame prefix, CamVid on name."""
    predictions = {p.name: p for p in pred_dir.glob('*.png')}
    pairs = []
    for gt, table in files:
        if data_format == 'cityscapes':
            prefix = gt.name.split('_gtFine_')[0]
            matches = sorted(p for name, p in predictions.items() if name.startswith(prefix))
        else:
            matches = [predictions[gt.name]] if gt.name in predictions else []
        if matches:
            pairs.append((matches[0], gt, table))
    return pairs


def _match_bag_predictions(result_bag: Path, files: List[Tuple[Path, np.ndarray]],
                           namespace: Optional[str]) -> List[Tuple[object, Path, np.ndarray]]:
    """Pair a result bag's semantic images, in stamp order, with ground truth in name order.

    ``make-bag`` stamps an image folder's files in name order, so frame i of its bag is the
    i-th file; both sides must hold the same number of frames.
    """
    predictions = result_bag_io.semantic_maps(result_bag, namespace)
    if len(predictions) != len(files):
        raise ValueError(
            f'{result_bag} holds {len(predictions)} semantic frames but the ground truth has '
            f'{len(files)} files; frames are paired in order, so the counts must be equal')
    return [(labels, gt, table) for (_, labels), (gt, table) in zip(predictions, files)]


def evaluate_semantic(pred: Path, gt_dir: Path, data_format: str,
                      namespace: Optional[str] = None) -> SemanticScores:
    """Score every prediction that has a ground-truth file.

    Args:
        pred: a folder of PNGs of canonical class ids (Cityscapes frames are matched on their
            ``city_sequence_frame`` prefix, CamVid frames on the file name), or a result bag
            (``process``'s output) whose ``semantic`` images are paired in stamp order with the
            ground-truth files in name order.
        gt_dir: the ground-truth folder (searched recursively for Cityscapes).
        data_format: ``'cityscapes'`` or ``'camvid'``.
        namespace: the camera of a result bag with several (e.g. ``/camera``).

    Raises:
        FileNotFoundError: no prediction matches any ground-truth file.
        ValueError: unknown format, unreadable file, or a bag whose frame count differs from
            the ground truth's.

    """
    pred, gt_dir = Path(pred), Path(gt_dir)
    names, canonical_to_index, files = _ground_truth(gt_dir, data_format)
    if bag_io.is_bag(pred):
        pairs = _match_bag_predictions(pred, files, namespace)
    else:
        pairs = _match_prediction_files(pred, files, data_format)
    if not pairs:
        raise FileNotFoundError(
            f'no prediction in {pred} matches a {data_format} ground-truth file in {gt_dir}')
    confusion = np.zeros((len(names), len(names) + 1), dtype=np.int64)
    for prediction, gt_path, gt_table in pairs:
        gt = gt_table[read_label_image(gt_path)]
        labels = read_label_image(prediction) if isinstance(prediction, Path) else prediction
        confusion += confusion_matrix(gt, canonical_to_index[fit_labels(labels, gt.shape)],
                                      len(names))
    return SemanticScores(class_names=names, confusion=confusion, frames=len(pairs))


def format_table(scores: SemanticScores) -> str:
    """Human-readable table: IoU per class, then mIoU and pixel accuracy."""
    lines = [f'{"class":<16} {"IoU":>7}']
    for name, iou, present in zip(scores.class_names, scores.iou(), scores.present()):
        lines.append(f'{name:<16} {iou:7.3f}' if present else f'{name:<16} {"-":>7}')
    lines.append(f'{"mIoU":<16} {scores.mean_iou():7.3f}  (classes present in the ground truth)')
    lines.append(f'{"pixel accuracy":<16} {scores.pixel_accuracy():7.3f}  '
                 f'({scores.frames} frames)')
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate semantic``."""
    parser.add_argument('--pred', required=True, type=Path,
                        help='folder of prediction PNGs (canonical class ids), or a result bag '
                             'of process (frames paired in order with the sorted ground truth)')
    parser.add_argument('--topic', default=None, metavar='NS', dest='namespace',
                        help='camera namespace in a result bag with several cameras')
    parser.add_argument('--gt', required=True, type=Path, help='ground-truth folder')
    parser.add_argument('--format', required=True, choices=('cityscapes', 'camvid'),
                        dest='data_format', help='ground-truth format')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate semantic``; return the exit code."""
    scores = evaluate_semantic(args.pred, args.gt, args.data_format, args.namespace)
    print(format_table(scores))
    if args.json:
        print(json.dumps(scores.as_dict()))
    return 0
