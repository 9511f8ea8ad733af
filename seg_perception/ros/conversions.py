"""sensor_msgs images <-> numpy arrays, with every malformed message turned into a clear error.

Plain numpy views over the message buffer are used rather than cv_bridge: for the encodings below
they avoid a copy and need no compiled ROS package; cv_bridge is used, when importable, for
encodings outside this table.
"""

import array
import sys
import threading
from typing import Dict, List, Tuple

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

# encoding -> (channels, numpy dtype, cv2 code to RGB or None when already RGB / grey)
_ENCODINGS: Dict[str, Tuple[int, str, object]] = {
    'rgb8': (3, 'u1', None),
    'bgr8': (3, 'u1', cv2.COLOR_BGR2RGB),
    'rgba8': (4, 'u1', cv2.COLOR_RGBA2RGB),
    'bgra8': (4, 'u1', cv2.COLOR_BGRA2RGB),
    'mono8': (1, 'u1', cv2.COLOR_GRAY2RGB),
    '8UC1': (1, 'u1', cv2.COLOR_GRAY2RGB),
    '8UC3': (3, 'u1', cv2.COLOR_BGR2RGB),
    'mono16': (1, 'u2', cv2.COLOR_GRAY2RGB),
    'rgb16': (3, 'u2', None),
    'bgr16': (3, 'u2', cv2.COLOR_BGR2RGB),
    # OpenCV names a Bayer pattern by its second row, hence the apparent mismatch.
    'bayer_rggb8': (1, 'u1', cv2.COLOR_BayerBG2RGB),
    'bayer_bggr8': (1, 'u1', cv2.COLOR_BayerRG2RGB),
    'bayer_gbrg8': (1, 'u1', cv2.COLOR_BayerGR2RGB),
    'bayer_grbg8': (1, 'u1', cv2.COLOR_BayerGB2RGB),
    'uyvy': (2, 'u1', cv2.COLOR_YUV2RGB_UYVY),
    'yuv422': (2, 'u1', cv2.COLOR_YUV2RGB_UYVY),
    'yuyv': (2, 'u1', cv2.COLOR_YUV2RGB_YUY2),
    'yuv422_yuy2': (2, 'u1', cv2.COLOR_YUV2RGB_YUY2),
}

SUPPORTED_ENCODINGS = tuple(sorted(_ENCODINGS))

#: Images larger than this many pixels are rejected (a corrupt header, not a camera).
MAX_PIXELS = 100_000_000


def stamp_to_ns(stamp) -> int:
    """Return a ``builtin_interfaces/Time`` (rclpy or rosbags message) in nanoseconds."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


class ImageConversionError(ValueError):
    """An image message cannot be turned into an RGB array (message says why)."""


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` to RGB.

    Returns:
        (height, width, 3) uint8 RGB; a view of the message buffer when the encoding is rgb8
        with no row padding, a new array otherwise. 16-bit images are scaled to 8 bits.

    Raises:
        ImageConversionError: unsupported encoding, zero or absurd size, a step too small for the
            width, or data shorter than height * step.

    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f'image has zero size ({width}x{height})')
    if height * width > MAX_PIXELS:
        raise ImageConversionError(f'image size {width}x{height} exceeds {MAX_PIXELS} pixels')
    encoding = msg.encoding
    if encoding not in _ENCODINGS:
        return _convert_with_cv_bridge(msg)
    channels, dtype_code, to_rgb = _ENCODINGS[encoding]
    dtype = np.dtype(dtype_code).newbyteorder('>' if msg.is_bigendian else '<')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f'step {step} is smaller than width * bytes per pixel = {row_bytes} '
            f'({encoding}, width {width})')
    data = msg.data
    if len(data) < height * step:
        raise ImageConversionError(
            f'data has {len(data)} bytes, expected height * step = {height * step} '
            f'({width}x{height} {encoding}, step {step}): truncated message')
    if step % dtype.itemsize:
        raise ImageConversionError(f'step {step} is not a multiple of {dtype.itemsize} bytes')
    buffer = np.frombuffer(data, dtype=np.uint8, count=height * step).reshape(height, step)
    pixels = buffer[:, :row_bytes].view(dtype).reshape(height, width, channels)
    if dtype.itemsize == 2:
        pixels = (pixels >> 8).astype(np.uint8)
    if to_rgb is None:
        return pixels
    source = pixels[:, :, 0] if channels == 1 else pixels
    try:
        return cv2.cvtColor(np.ascontiguousarray(source), to_rgb)
    except cv2.error as error:  # e.g. a 4:2:2 (uyvy / yuyv) image of odd width
        raise ImageConversionError(
            f'{encoding} image {width}x{height} cannot be converted to rgb8: '
            f'{str(error).strip().splitlines()[-1]}') from None


def compressed_msg_to_rgb(msg: CompressedImage) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (jpeg, png, ...) to (H, W, 3) uint8 RGB.

    Raises:
        ImageConversionError: empty or undecodable data.

    """
    if len(msg.data) == 0:
        raise ImageConversionError(f'compressed image ({msg.format!r}) has no data')
    encoded = np.frombuffer(msg.data, dtype=np.uint8)
    bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise ImageConversionError(
            f'cannot decode compressed image ({msg.format!r}, {len(msg.data)} bytes): '
            'corrupt or unsupported data')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def array_to_image_msg(pixels: np.ndarray, header: Header, encoding: str) -> Image:
    """Build a ``sensor_msgs/Image`` holding ``pixels``.

    Args:
        pixels: (H, W) uint8 for ``mono8``, (H, W) uint16 for ``mono16``, (H, W, 3) uint8 for
            ``rgb8``.
        header: copied into the message (stamp and frame_id).
        encoding: ``'mono8'``, ``'mono16'`` or ``'rgb8'``.

    """
    expected = {'mono8': (2, np.uint8), 'mono16': (2, np.uint16), 'rgb8': (3, np.uint8)}
    if encoding not in expected:
        raise ValueError(f'cannot publish encoding {encoding!r}')
    ndim, dtype = expected[encoding]
    if pixels.ndim != ndim or pixels.dtype != dtype:
        raise ValueError(
            f'{encoding} needs a {ndim}-D {np.dtype(dtype).name} array, got {pixels.shape} '
            f'{pixels.dtype}')
    backing = _backing_buffer(pixels)
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype.byteorder == '>':
        pixels = pixels.astype(pixels.dtype.newbyteorder('<'))
        backing = None
    # With field checks on, rclpy's ``data`` setter keeps an array.array as it is; without
    # them (its default) it copies any value into a new one.
    msg = Image(check_fields=True)
    msg.header = header
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(pixels.strides[0])
    if backing is not None:  # made by message_backed_array: the message takes it as is
        msg.data = backing
        return msg
    # One memcpy from the array's buffer, as fast as ndarray.copy(): array.array('B',
    # pixels.tobytes()) would copy twice, and a list or bytes would iterate per element.
    data = array.array('B')
    data.frombytes(memoryview(pixels).cast('B'))
    msg.data = data
    return msg


def message_backed_array(shape: Tuple[int, ...], dtype) -> np.ndarray:
    """Return a new zero-filled numpy array whose memory is an ``array.array('B')``.

    ``array_to_image_msg`` gives that ``array.array`` to the message as its ``data`` instead of
    copying the pixels (rclpy's setter takes an ``array.array`` as is; anything else is copied),
    so the message shares the array's memory: do not write to the array after converting it.

    Args:
        shape: the array's shape, e.g. (H, W).
        dtype: its numpy dtype (native byte order).

    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    backing = array.array('B', b'\0') * size  # one memset; bytes(size) then a copy was slower
    return np.frombuffer(backing, dtype=dtype).reshape(shape)


class MessageBufferPool:
    """Hands out ``message_backed_array`` arrays, reusing buffers nothing refers to any more.

    A buffer is reused once no array, view or message holds it (its reference count says so),
    so a result or message kept by anyone is never overwritten; reuse saves the page faults of
    fresh memory (1080p semantic + instances, resize and conversion: 1.8-2.0 ms against
    2.2-2.6 ms with new buffers and 3.0-3.2 ms with numpy arrays copied into the messages,
    measured here). Called as the pipeline's ``allocate_labels``; the contents of a reused
    buffer are the last frame's (the pipeline overwrites every pixel).

    Args:
        keep: buffers kept per byte size; past that, new ones are not kept.

    """

    def __init__(self, keep: int = 8):
        self._keep = keep
        self._buffers: Dict[int, List[array.array]] = {}
        self._lock = threading.Lock()

    def __call__(self, shape: Tuple[int, ...], dtype) -> np.ndarray:
        """Return an (uninitialised) array of ``shape`` and ``dtype`` backed by a buffer."""
        dtype = np.dtype(dtype)
        size = int(np.prod(shape)) * dtype.itemsize
        with self._lock:
            kept = self._buffers.setdefault(size, [])
            for buffer in kept:
                # Free when only the list, this loop's name and getrefcount's argument refer
                # to it: a live numpy view or message adds one.
                if sys.getrefcount(buffer) == 3:
                    return np.frombuffer(buffer, dtype=dtype).reshape(shape)
            pixels = message_backed_array(shape, dtype)
            if len(kept) < self._keep:
                kept.append(_backing_buffer(pixels))
            return pixels


def _backing_buffer(pixels: np.ndarray):
    """Return the ``array.array`` that holds exactly ``pixels`` (C order, from its start), or None.

    True of arrays made by ``message_backed_array`` and of their full reshaped views.
    """
    if not pixels.flags.c_contiguous:
        return None
    base = pixels.base
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):  # numpy.frombuffer keeps a memoryview of the array.array
        base = base.obj
    if not isinstance(base, array.array) or base.typecode != 'B' or \
            len(base) != pixels.nbytes or \
            pixels.__array_interface__['data'][0] != base.buffer_info()[0]:
        return None
    return base


def _convert_with_cv_bridge(msg: Image) -> np.ndarray:
    try:
        from cv_bridge import CvBridge, CvBridgeError
    except ImportError:
        raise ImageConversionError(
            f'unsupported encoding {msg.encoding!r}; supported: {", ".join(SUPPORTED_ENCODINGS)}'
        ) from None
    try:
        return CvBridge().imgmsg_to_cv2(msg, desired_encoding='rgb8')
    except (CvBridgeError, TypeError, ValueError) as error:
        raise ImageConversionError(
            f'unsupported encoding {msg.encoding!r} ({error}); '
            f'supported: {", ".join(SUPPORTED_ENCODINGS)}') from error
