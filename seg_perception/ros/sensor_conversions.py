"""CameraInfo, depth images and PointCloud2 -> plain numpy, every malformed message a clear error.

Companions of ``conversions`` (camera images) for the inputs of 3D lifting. Each function
returns arrays that are safe to use (finite where it says so) or raises ``SensorConversionError``.
"""

from typing import Dict

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from seg_perception.calibration import CameraCalibration
from seg_perception.geometry.depth_lifting import depth_to_metres
from seg_perception.ros.conversions import MAX_PIXELS

#: Clouds with more points than this are rejected (a corrupt header, not a sensor).
MAX_POINTS = 50_000_000

# PointField datatype -> numpy dtype character
_FIELD_TYPES: Dict[int, str] = {
    PointField.INT8: 'i1', PointField.UINT8: 'u1', PointField.INT16: 'i2',
    PointField.UINT16: 'u2', PointField.INT32: 'i4', PointField.UINT32: 'u4',
    PointField.FLOAT32: 'f4', PointField.FLOAT64: 'f8',
}


class SensorConversionError(ValueError):
    """A CameraInfo, depth image or point cloud message that cannot be used (says why)."""


def camera_info_to_calibration(msg: CameraInfo) -> CameraCalibration:
    """Return the intrinsics of a ``sensor_msgs/CameraInfo``.

    Raises:
        SensorConversionError: zero size, K / R / P of the wrong length, NaN or infinite
            values, or non-positive focal lengths (an uncalibrated camera sends K = 0).

    """
    calibration = CameraCalibration(
        width=int(msg.width), height=int(msg.height), k=tuple(float(v) for v in msg.k),
        d=tuple(float(v) for v in msg.d), distortion_model=str(msg.distortion_model),
        r=tuple(float(v) for v in msg.r), p=tuple(float(v) for v in msg.p))
    try:
        calibration.check()
    except ValueError as error:
        raise SensorConversionError(f'camera_info: {error}') from error
    return calibration


def depth_msg_to_metres(msg: Image) -> np.ndarray:
    """Return a depth image in metres.

    ``16UC1`` / ``mono16`` are millimetres (0 = no return); ``32FC1`` are metres.

    Returns:
        (height, width) float32 metres; NaN where the sensor had no valid depth (0, NaN,
        infinite or negative values).

    Raises:
        SensorConversionError: another encoding, zero or absurd size, a step too small for the
            width, or data shorter than height * step.

    """
    layouts = {'16UC1': 'u2', 'mono16': 'u2', '32FC1': 'f4'}
    if msg.encoding not in layouts:
        raise SensorConversionError(
            f'depth image encoding {msg.encoding!r} is not one of {", ".join(layouts)}')
    dtype = np.dtype(layouts[msg.encoding]).newbyteorder('>' if msg.is_bigendian else '<')
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise SensorConversionError(f'depth image has zero size {width}x{height}')
    if height * width > MAX_PIXELS:
        raise SensorConversionError(f'depth image size {width}x{height} is absurd')
    if step < width * dtype.itemsize:
        raise SensorConversionError(
            f'depth image step {step} is smaller than width {width} x {dtype.itemsize} bytes')
    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if data.size < height * step:
        raise SensorConversionError(
            f'truncated depth image: {data.size} bytes, {height} rows of {step} need '
            f'{height * step}')
    rows = data[:height * step].reshape(height, step)[:, :width * dtype.itemsize]
    values = np.ascontiguousarray(rows).view(dtype).reshape(height, width)
    return depth_to_metres(values.astype(dtype.newbyteorder('=')))


def pointcloud2_to_xyz(msg: PointCloud2) -> np.ndarray:
    """Return the finite x, y, z of a ``sensor_msgs/PointCloud2``, in the message's frame.

    Returns:
        (N, 3) float32 metres; points with a NaN or infinite coordinate are left out.

    Raises:
        SensorConversionError: no float x / y / z fields, fields outside ``point_step``, a
            ``row_step`` smaller than width * point_step, absurd size, or data shorter than
            height * row_step.

    """
    fields = {f.name: f for f in msg.fields}
    missing = [name for name in 'xyz' if name not in fields]
    if missing:
        raise SensorConversionError(
            f'point cloud lacks field(s) {", ".join(missing)} (it has: '
            f'{", ".join(sorted(fields)) or "none"})')
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    if height * width > MAX_POINTS:
        raise SensorConversionError(f'point cloud size {width}x{height} is absurd')
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for name in 'xyz':
        field = fields[name]
        if field.datatype not in (PointField.FLOAT32, PointField.FLOAT64):
            raise SensorConversionError(
                f'point cloud field {name} has datatype {field.datatype}, not FLOAT32 (7) or '
                f'FLOAT64 (8)')
        dtype = np.dtype(_FIELD_TYPES[field.datatype]).newbyteorder(order)
        if field.offset + dtype.itemsize > point_step:
            raise SensorConversionError(
                f'point cloud field {name} at offset {field.offset} does not fit in '
                f'point_step {point_step}')
        names.append(name)
        formats.append(dtype)
        offsets.append(field.offset)
    if height * width == 0:
        return np.zeros((0, 3), np.float32)
    if row_step < width * point_step:
        raise SensorConversionError(
            f'point cloud row_step {row_step} is smaller than width {width} x point_step '
            f'{point_step}')
    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if data.size < height * row_step:
        raise SensorConversionError(
            f'truncated point cloud: {data.size} bytes, {height} rows of {row_step} need '
            f'{height * row_step}')
    point_type = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                           'itemsize': point_step})
    rows = data[:height * row_step].reshape(height, row_step)[:, :width * point_step]
    points = np.ascontiguousarray(rows).view(point_type).reshape(-1)
    with np.errstate(over='ignore', invalid='ignore'):  # float64 beyond float32: inf, dropped
        xyz = np.stack([points[name].astype(np.float32) for name in 'xyz'], axis=1)
    return xyz[np.isfinite(xyz).all(axis=1)]
