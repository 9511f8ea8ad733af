"""Turn an image folder (sorted by name) or a video file into a rosbag2 of camera images.

Each frame becomes a sensor_msgs/Image (rgb8) or, with --compressed, a sensor_msgs/CompressedImage
(jpeg) on TOPIC (``/compressed`` is appended for compressed images when TOPIC lacks it). Frame i
is stamped START + i / FPS, in the header and as the bag's receive time. With --camera-info FILE
(a ``camera_calibration`` YAML), each frame also gets a sensor_msgs/CameraInfo with the same
header on the sibling ``camera_info`` topic (``/camera/image_raw`` -> ``/camera/camera_info``).
"""

import argparse
from pathlib import Path
import time
from typing import Iterable, Optional, Tuple

import cv2
import numpy as np

from seg_perception import topics
from seg_perception.ros import bag_io
from seg_perception.tools.camera_calibration import CameraCalibration, read_calibration
from seg_perception.tools.image_source import iter_frames


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception make-bag``."""
    parser.add_argument('source', type=Path, help='image folder (sorted by name) or video file')
    parser.add_argument('out_bag', type=Path, help='rosbag2 folder to create')
    parser.add_argument('--fps', type=float, default=10.0, help='frame rate of the stamps')
    parser.add_argument('--topic', default='/camera/image_raw', help='camera topic')
    parser.add_argument('--compressed', action='store_true',
                        help='write sensor_msgs/CompressedImage (jpeg) on TOPIC/compressed')
    parser.add_argument('--storage', default='sqlite3', choices=bag_io.STORAGES,
                        help='rosbag2 storage format (default: sqlite3)')
    parser.add_argument('--frame-id', default='camera_optical_frame', help='header frame_id')
    parser.add_argument('--start', type=float, default=None,
                        help='stamp of the first frame, seconds since the epoch (default: now)')
    parser.add_argument('--limit', type=int, default=0, help='stop after N frames (0 = all)')
    parser.add_argument('--jpeg-quality', type=int, default=95, help='jpeg quality, 1..100')
    parser.add_argument('--camera-info', type=Path, default=None, metavar='FILE',
                        help='camera_calibration YAML: also write sensor_msgs/CameraInfo')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_BAG if it exists')


def stamp_msg(stamp_ns: int):
    """Return a typestore ``builtin_interfaces/Time`` of ``stamp_ns`` nanoseconds."""
    time_type = bag_io.typestore().types['builtin_interfaces/msg/Time']
    return time_type(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def image_message(rgb: np.ndarray, stamp_ns: int, frame_id: str, compressed: bool,
                  jpeg_quality: int = 95):
    """Return a typestore Image (rgb8) or CompressedImage (jpeg) of ``rgb``.

    Args:
        rgb: (H, W, 3) uint8 RGB.
        stamp_ns: header stamp, nanoseconds.
        frame_id: header frame_id.
        compressed: build a CompressedImage instead of an Image.
        jpeg_quality: jpeg quality for compressed images, 1..100.

    """
    types = bag_io.typestore().types
    header = types['std_msgs/msg/Header'](stamp=stamp_msg(stamp_ns), frame_id=frame_id)
    if compressed:
        ok, encoded = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise ValueError('jpeg encoding failed')
        return types[bag_io.COMPRESSED_TYPE](header=header, format='jpeg',
                                             data=encoded.reshape(-1))
    height, width = rgb.shape[:2]
    return types[bag_io.IMAGE_TYPE](
        header=header, height=height, width=width, encoding='rgb8', is_bigendian=0,
        step=width * 3, data=np.ascontiguousarray(rgb).reshape(-1))


def camera_info_message(calibration: CameraCalibration, header):
    """Return a typestore sensor_msgs/CameraInfo of ``calibration`` with ``header``."""
    types = bag_io.typestore().types
    return types[bag_io.CAMERA_INFO_TYPE](
        header=header, height=calibration.height, width=calibration.width,
        distortion_model=calibration.distortion_model,
        d=np.asarray(calibration.d, dtype=np.float64), k=np.asarray(calibration.k),
        r=np.asarray(calibration.r), p=np.asarray(calibration.p), binning_x=0, binning_y=0,
        roi=types['sensor_msgs/msg/RegionOfInterest'](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def write_frames(frames: Iterable[Tuple[str, np.ndarray]], out_bag: Path, topic: str,
                 fps: float, start_ns: int, frame_id: str, compressed: bool, storage: str,
                 jpeg_quality: int = 95, overwrite: bool = False,
                 calibration: Optional[CameraCalibration] = None) -> int:
    """Write RGB frames into a new bag, one message each; return how many were written.

    With ``calibration``, a CameraInfo with each frame's header goes on the sibling
    ``camera_info`` topic.

    Raises:
        BagError: unknown storage, existing output, or no frame at all.
        ValueError: a non-positive frame rate, or a frame of another size than the
            calibration's.

    """
    if fps <= 0:
        raise ValueError(f'--fps must be positive, got {fps}')
    if compressed and not topic.rstrip('/').endswith('/compressed'):
        topic = topic.rstrip('/') + '/compressed'
    msgtype = bag_io.COMPRESSED_TYPE if compressed else bag_io.IMAGE_TYPE
    store = bag_io.typestore()
    writer = bag_io.open_writer(out_bag, storage, overwrite)
    count = 0
    with writer:
        connection = writer.add_connection(topic, msgtype, typestore=store)
        info_connection = writer.add_connection(
            topics.camera_info_topic(topic), bag_io.CAMERA_INFO_TYPE,
            typestore=store) if calibration is not None else None
        for index, (name, rgb) in enumerate(frames):
            stamp_ns = start_ns + round(index * 1e9 / fps)
            msg = image_message(rgb, stamp_ns, frame_id, compressed, jpeg_quality)
            writer.write(connection, stamp_ns, store.serialize_cdr(msg, msgtype))
            if info_connection is not None:
                if rgb.shape[:2] != (calibration.height, calibration.width):
                    raise ValueError(
                        f'frame {name} is {rgb.shape[1]}x{rgb.shape[0]} but the camera '
                        f'calibration is for {calibration.width}x{calibration.height}')
                info = camera_info_message(calibration, msg.header)
                writer.write(info_connection, stamp_ns,
                             store.serialize_cdr(info, bag_io.CAMERA_INFO_TYPE))
            count += 1
    if count == 0:
        raise bag_io.BagError(f'no frames were read; {out_bag} holds no messages')
    return count


def run(args: argparse.Namespace) -> int:
    """Run ``seg-perception make-bag``."""
    start = args.start if args.start is not None else time.time()
    calibration = read_calibration(args.camera_info) if args.camera_info else None
    count = write_frames(
        iter_frames(args.source, args.limit), args.out_bag, args.topic, args.fps,
        int(round(start * 1e9)), args.frame_id, args.compressed, args.storage,
        args.jpeg_quality, args.overwrite, calibration)
    with_info = ' with camera_info' if calibration else ''
    print(f'wrote {count} frames{with_info} to {args.out_bag} ({args.storage})')
    return 0
