"""Turn an image folder (sorted by name) or a video file into a rosbag2 of camera images.

Each frame becomes a sensor_msgs/Image (rgb8) or, with --compressed, a sensor_msgs/CompressedImage
(jpeg) on TOPIC (``/compressed`` is appended for compressed images when TOPIC lacks it). Frame i
is stamped START + i / FPS, in the header and as the bag's receive time.
"""

import argparse
from pathlib import Path
import time
from typing import Iterable, Tuple

import cv2
import numpy as np

from seg_perception.tools import bag_io
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


def write_frames(frames: Iterable[Tuple[str, np.ndarray]], out_bag: Path, topic: str,
                 fps: float, start_ns: int, frame_id: str, compressed: bool, storage: str,
                 jpeg_quality: int = 95, overwrite: bool = False) -> int:
    """Write RGB frames into a new bag, one message each; return how many were written.

    Raises:
        BagError: unknown storage, existing output, or no frame at all.
        ValueError: a non-positive frame rate.

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
        for index, (_, rgb) in enumerate(frames):
            stamp_ns = start_ns + round(index * 1e9 / fps)
            msg = image_message(rgb, stamp_ns, frame_id, compressed, jpeg_quality)
            writer.write(connection, stamp_ns, store.serialize_cdr(msg, msgtype))
            count += 1
    if count == 0:
        raise bag_io.BagError(f'no frames were read; {out_bag} holds no messages')
    return count


def run(args: argparse.Namespace) -> int:
    """Run ``seg-perception make-bag``."""
    start = args.start if args.start is not None else time.time()
    count = write_frames(
        iter_frames(args.source, args.limit), args.out_bag, args.topic, args.fps,
        int(round(start * 1e9)), args.frame_id, args.compressed, args.storage,
        args.jpeg_quality, args.overwrite)
    print(f'wrote {count} frames to {args.out_bag} ({args.storage})')
    return 0
