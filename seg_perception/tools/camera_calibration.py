"""Read a camera calibration file in the format of ROS ``camera_calibration`` (YAML).

The file is the one ``camera_calibration`` / ``camera_info_manager`` write::

    image_width: 1242
    image_height: 375
    camera_name: front
    camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}
    distortion_model: plumb_bob
    distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, t1, t2, k3]}
    rectification_matrix: {rows: 3, cols: 3, data: [...]}
    projection_matrix: {rows: 3, cols: 4, data: [...]}

Only ``image_width``, ``image_height`` and ``camera_matrix`` are required: a missing
distortion means none, a missing rectification the identity, a missing projection ``[K | 0]``.
"""

from pathlib import Path
from typing import Tuple

import yaml

from seg_perception.calibration import CameraCalibration


def _matrix(data: dict, key: str, size: int, path: Path) -> Tuple[float, ...]:
    entry = data[key]
    values = entry.get('data') if isinstance(entry, dict) else entry
    if not isinstance(values, list) or len(values) != size:
        raise ValueError(f'{path}: {key} must hold {size} numbers, got {values!r}')
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f'{path}: {key} holds a value that is not a number: {values!r}')


def read_calibration(path: Path) -> CameraCalibration:
    """Read a ``camera_calibration`` YAML file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not YAML, a missing required key, or a matrix of the wrong size.

    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'camera calibration file {path} does not exist')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f'{path} is not YAML: {error}') from error
    if not isinstance(data, dict):
        raise ValueError(f'{path} must hold a mapping of calibration keys')
    missing = [key for key in ('image_width', 'image_height', 'camera_matrix') if key not in data]
    if missing:
        raise ValueError(f'{path} lacks {", ".join(missing)}')
    width, height = data['image_width'], data['image_height']
    if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
        raise ValueError(f'{path}: image size {width}x{height} must be positive integers')
    k = _matrix(data, 'camera_matrix', 9, path)
    d = ()
    if data.get('distortion_coefficients') is not None:
        entry = data['distortion_coefficients']
        d = _matrix(data, 'distortion_coefficients',
                    len(entry.get('data', entry) if isinstance(entry, dict) else entry), path)
    r = _matrix(data, 'rectification_matrix', 9, path) if 'rectification_matrix' in data \
        else CameraCalibration.r
    p = _matrix(data, 'projection_matrix', 12, path) if 'projection_matrix' in data \
        else k[0:3] + (0.0,) + k[3:6] + (0.0,) + k[6:9] + (0.0,)
    calibration = CameraCalibration(
        width=width, height=height, k=k, d=d,
        distortion_model=str(data.get('distortion_model', 'plumb_bob')), r=r, p=p)
    try:
        calibration.check()
    except ValueError as error:
        raise ValueError(f'{path}: {error}') from error
    return calibration
