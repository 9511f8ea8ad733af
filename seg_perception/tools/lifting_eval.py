"""3D distance error of boxes lifted from the image against KITTI tracking's 3D labels.

Every labelled 2D box (Car, Van, Truck, Pedestrian, Cyclist; classes mapped as in ``evaluate
tracking``) of each sequence is lifted with the monocular ground-plane method and its
ground-contact centre compared with the label's 3D location (the bottom centre of the 3D box,
rectified camera-0 frame). Two methods:

* ``baseline``: the box's bottom-centre pixel on a flat ground plane at the nominal camera
  height (1.65 m, KITTI's published set-up), no pitch: the box's bottom edge is the object's
  near side, and slopes move the ground.
* ``ours``: ``seg_perception.geometry.ground_plane.lift_boxes``: size priors of the class fused
  with the ground plane, a per-frame pitch estimate from the frame's boxes, near side to centre.

Only the calibration's ``P2`` (the left colour camera) and the nominal camera height are used
at run time; the 3D labels only score. Errors are Euclidean distances in metres (absolute) and
over the label's distance from the camera (relative); median and 90th percentile per band of
the label's distance and overall. Folder layout: KITTI tracking (``<root>/**/label_02/<seq>.txt``,
``calib/<seq>.txt`` beside ``label_02``, optional ``image_02/<seq>/*.png`` for the image size).
"""

import argparse
from dataclasses import replace
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from seg_perception import taxonomy
from seg_perception.geometry.camera import camera_from_projection_matrix, CameraModel, \
    OPTICAL_TO_BODY, transform_points
from seg_perception.geometry.ground_plane import flat_ground_baseline, GroundLiftConfig, \
    lift_boxes
from seg_perception.tools.tracking_eval import find_kitti_sequences, read_kitti_labels, SequenceGT

#: KITTI's camera height above the ground, m (Geiger et al., IJRR 2013 set-up figure).
KITTI_CAMERA_HEIGHT = 1.65
BANDS: Tuple[Tuple[float, float], ...] = ((0.0, 20.0), (20.0, 40.0), (40.0, np.inf),
                                          (0.0, 40.0), (0.0, np.inf))
BASELINE = 'baseline'
OURS = 'ours'


def read_kitti_calib(path: Path) -> Dict[str, np.ndarray]:
    """Read a KITTI calibration file (``NAME: v1 v2 ...`` lines; ``NAME v1 ...`` also accepted).

    Returns:
        name -> float64 array: ``P0``..``P3`` (3, 4), ``R_rect`` / ``R0_rect`` (3, 3),
        ``Tr_*`` (3, 4); other entries flat.

    """
    calib = {}
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.replace(':', ' ', 1).split()
            if not fields:
                continue
            try:
                values = np.array([float(v) for v in fields[1:]], dtype=np.float64)
            except ValueError:
                raise ValueError(f'{path}:{number}: non-numeric calibration values') from None
            if values.shape[0] == 12:
                values = values.reshape(3, 4)
            elif values.shape[0] == 9:
                values = values.reshape(3, 3)
            calib[fields[0]] = values
    if 'P2' not in calib or np.shape(calib['P2']) != (3, 4):
        raise ValueError(f'{path}: no 3x4 P2 projection matrix')
    return calib


def kitti_reference_from_base(camera_height: float = KITTI_CAMERA_HEIGHT) -> np.ndarray:
    """Return (4, 4) ``base`` in the rectified camera-0 frame.

    ``base`` lies on the ground ``camera_height`` m below camera 0: x forward (camera z), y left
    (camera -x), z up (camera -y).
    """
    transform = np.eye(4)
    transform[:3, :3] = OPTICAL_TO_BODY.T
    transform[:3, 3] = (0.0, camera_height, 0.0)
    return transform


def kitti_camera(calib: Dict[str, np.ndarray], image_size: Tuple[int, int],
                 camera_height: float = KITTI_CAMERA_HEIGHT) -> CameraModel:
    """Return the left colour camera (``P2``) posed in ``kitti_reference_from_base``'s base."""
    return camera_from_projection_matrix(calib['P2'], image_size[0], image_size[1],
                                         kitti_reference_from_base(camera_height))


def _image_size(image_dir: Path, gt: SequenceGT) -> Tuple[int, int]:
    images = sorted(image_dir.glob('*.png')) if image_dir.is_dir() else []
    if images:
        from PIL import Image
        with Image.open(images[0]) as image:
            return image.size
    # Labelled boxes are clipped to the image: their extent is the image size within a pixel.
    return int(gt.image_size[0]) + 1, int(gt.image_size[1]) + 1


#: Our method with one part switched off each (``--ablations``).
ABLATIONS: Dict[str, dict] = {
    'no_pitch': {'estimate_pitch': False},
    'no_size_prior': {'use_size_prior': False},
    'no_centre': {'near_to_centre': False},
    'size_prior_only': {'use_ground_plane': False},
}


def lift_sequence(gt: SequenceGT, camera: CameraModel,
                  config: GroundLiftConfig = GroundLiftConfig(),
                  reference_from_base: Optional[np.ndarray] = None,
                  ablations: Sequence[str] = ()) -> Dict[str, np.ndarray]:
    """Lift every labelled box of a sequence, frame by frame, with both methods.

    Args:
        gt: the sequence's labels (with ``boxes_3d``).
        camera: the labels' camera, posed in ``base``.
        config: settings of our method.
        reference_from_base: (4, 4) ``base`` in the labels' frame (default
            ``kitti_reference_from_base()``).
        ablations: names of ``ABLATIONS`` to run as well (keys of the result).

    Returns:
        ``{'truth': (K, 3), 'baseline': (K, 3), 'ours': (K, 3)}`` ground-contact centres in
        ``base`` (NaN where a method gives none), plus ``'range'`` (K,): the label's distance
        from camera 0, m.

    """
    if reference_from_base is None:
        reference_from_base = kitti_reference_from_base()
    if gt.boxes_3d is None:
        raise ValueError(f'sequence {gt.name} has no 3D labels')
    names = [taxonomy.CLASS_BY_ID[int(c)].name for c in gt.classes]
    base_from_reference = np.linalg.inv(reference_from_base)
    locations = gt.boxes_3d[:, 3:6]
    baseline, _ = flat_ground_baseline(camera, gt.boxes)
    configs = {OURS: config}
    configs.update({name: replace(config, **ABLATIONS[name]) for name in ablations})
    out = {'truth': transform_points(base_from_reference, locations), BASELINE: baseline,
           'range': np.linalg.norm(locations, axis=1)}
    for method, method_config in configs.items():
        estimates = np.full_like(baseline, np.nan)
        for frame in np.unique(gt.frames):
            rows = np.flatnonzero(gt.frames == frame)
            lifted = lift_boxes(camera, gt.boxes[rows], [names[i] for i in rows],
                                method_config)
            estimates[rows] = lifted.centres
        out[method] = estimates
    return out


def error_stats(estimates: np.ndarray, truth: np.ndarray, ranges: np.ndarray,
                bands: Sequence[Tuple[float, float]] = BANDS) -> Dict[str, dict]:
    """Median and 90th percentile of absolute (m) and relative distance errors per band.

    Returns:
        band name (``'0-20'``, ``'40+'``, ``'all'``) -> ``{'count', 'missing', 'median_m',
        'p90_m', 'median_rel', 'p90_rel'}``; ``missing`` counts boxes without an estimate.

    """
    error = np.linalg.norm(estimates - truth, axis=1)
    relative = error / np.maximum(ranges, 1e-6)
    out = {}
    for low, high in bands:
        name = 'all' if low == 0 and np.isinf(high) else \
            f'{low:g}+' if np.isinf(high) else f'{low:g}-{high:g}'
        in_band = (ranges >= low) & (ranges < high)
        found = in_band & np.isfinite(error)
        stats = {'count': int(found.sum()), 'missing': int((in_band & ~found).sum())}
        for key, values in (('m', error[found]), ('rel', relative[found])):
            stats[f'median_{key}'] = float(np.median(values)) if values.size else float('nan')
            stats[f'p90_{key}'] = float(np.percentile(values, 90)) if values.size \
                else float('nan')
        out[name] = stats
    return out


def evaluate_lifting(kitti_root: Path, sequences: Optional[Sequence[str]] = None,
                     config: GroundLiftConfig = GroundLiftConfig(),
                     ablations: Sequence[str] = ()) -> dict:
    """Evaluate both methods on KITTI tracking sequences.

    Args:
        kitti_root: a KITTI tracking folder (``label_02`` somewhere below, ``calib`` beside it).
        sequences: sequence names (e.g. ``0001``); all labelled ones when None.
        config: settings of our method.
        ablations: names of ``ABLATIONS`` to evaluate as well.

    Returns:
        ``{'sequences', 'methods': {method: error_stats}, 'untruncated': {method:
        error_stats}} (boxes KITTI labels as not truncated), 'per_sequence': {seq: {method:
        error_stats}}, 'config'}``.

    """
    unknown = sorted(set(ablations) - set(ABLATIONS))
    if unknown:
        raise ValueError(f'unknown ablations {unknown}; known: {sorted(ABLATIONS)}')
    methods = (BASELINE, OURS) + tuple(ablations)
    collected: Dict[str, List[np.ndarray]] = {}
    per_sequence = {}
    names = []
    for label_path in find_kitti_sequences(Path(kitti_root), sequences):
        root = label_path.parent.parent
        calib_path = root / 'calib' / f'{label_path.stem}.txt'
        if not calib_path.is_file():
            raise FileNotFoundError(f'no calibration {calib_path} for {label_path}')
        gt = read_kitti_labels(label_path)
        if gt.frames.shape[0] == 0:
            continue
        camera = kitti_camera(read_kitti_calib(calib_path),
                              _image_size(root / 'image_02' / label_path.stem, gt))
        lifted = lift_sequence(gt, camera, config, ablations=ablations)
        lifted['untruncated'] = gt.truncated == 0.0
        per_sequence[gt.name] = {
            method: error_stats(lifted[method], lifted['truth'], lifted['range'])
            for method in methods}
        for key, value in lifted.items():
            collected.setdefault(key, []).append(value)
        names.append(gt.name)
    if not names:
        raise ValueError(f'no labelled boxes in the sequences of {kitti_root}')
    merged = {key: np.concatenate(values) for key, values in collected.items()}
    keep = merged['untruncated']
    return {
        'sequences': names,
        'methods': {method: error_stats(merged[method], merged['truth'], merged['range'])
                    for method in methods},
        'untruncated': {method: error_stats(merged[method][keep], merged['truth'][keep],
                                            merged['range'][keep])
                        for method in methods},
        'per_sequence': per_sequence,
        'config': {key: getattr(config, key) for key in config.__dataclass_fields__},
    }


def format_table(result: dict) -> str:
    """Render ``evaluate_lifting``'s result as text tables (overall, then per sequence)."""
    lines = []
    tables = [('all sequences: ' + ' '.join(result['sequences']), result['methods']),
              ('boxes not truncated (KITTI truncation 0; for scoring only)',
               result['untruncated'])]
    if len(result['sequences']) > 1:
        tables += [(f'sequence {name}', methods)
                   for name, methods in result['per_sequence'].items()]
    for title, methods in tables:
        lines.append(title)
        lines.append(f'{"method":<17}{"band m":>8}{"boxes":>7}{"median m":>10}{"p90 m":>8}'
                     f'{"median %":>10}{"p90 %":>8}')
        for method, bands in methods.items():
            for band, stats in bands.items():
                lines.append(
                    f'{method:<17}{band:>8}{stats["count"]:>7d}{stats["median_m"]:>10.2f}'
                    f'{stats["p90_m"]:>8.2f}{100 * stats["median_rel"]:>10.1f}'
                    f'{100 * stats["p90_rel"]:>8.1f}')
    return '\n'.join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception evaluate lifting``."""
    parser.add_argument('--kitti-root', type=Path, required=True,
                        help='KITTI tracking folder: label_02/ (somewhere below) and calib/')
    parser.add_argument('--sequences', nargs='+', default=None, metavar='S',
                        help='sequences to use (e.g. 0001); default all labelled ones')
    parser.add_argument('--ablations', action='store_true',
                        help='also run our method with each part off: '
                        + ', '.join(ABLATIONS))
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def run(args: argparse.Namespace) -> int:
    """Run ``evaluate lifting``; return the exit code."""
    result = evaluate_lifting(args.kitti_root, sequences=args.sequences,
                              ablations=tuple(ABLATIONS) if args.ablations else ())
    print(format_table(result))
    if args.json:
        print(json.dumps(_finite_or_none(result)))
    return 0


def _finite_or_none(value):
    """Replace NaN and infinities (no JSON numbers) with None, recursively."""
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Stand-alone entry point (``python -m seg_perception.tools.lifting_eval``)."""
    parser = argparse.ArgumentParser(prog='seg-perception evaluate lifting',
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    raise SystemExit(main())
