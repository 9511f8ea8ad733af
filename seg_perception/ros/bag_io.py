"""Open rosbag2 bags (sqlite3 or mcap storage, CDR messages) with the ``rosbags`` library.

The typestore is ROS 2 Jazzy's with the vision_msgs 4.1 definitions registered from their
``.msg`` files, so that bags written here carry the same message definitions as ``ros2 bag``'s.
"""

from functools import lru_cache
import os
from pathlib import Path
import shutil
from typing import Dict, List, Optional

import numpy as np
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.typesys import get_types_from_msg, get_typestore, Stores

from seg_perception import paths

#: Storage formats of rosbag2 that ``make-bag`` and ``process`` write.
STORAGES = ('sqlite3', 'mcap')

#: rosbag2 metadata version written (ROS 2 Jazzy's).
BAG_VERSION = 9

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
CAMERA_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'


class BagError(ValueError):
    """A bag that cannot be opened or lacks what was asked of it."""


class BagReadError(BagError):
    """A bag that exists but cannot be read: broken metadata, a corrupt or truncated file.

    The message names the bag and the reason, e.g. ``runs/a: database disk image is malformed``.
    """


#: What a damaged bag makes the reader raise. Any exception from inside the reader's own code
#: (rosbags, its sqlite3 / apsw and mcap decoders) counts: seen on truncated and scribbled
#: bags were ReaderError, apsw.CorruptError, OverflowError, struct.error and KeyError.
READ_ERRORS = (Exception,)

#: Suffixes of single-file bags that ``open_reader`` accepts without a metadata.yaml.
SINGLE_FILE_SUFFIXES = ('.mcap', '.db3')


def vision_msgs_dirs() -> List[Path]:
    """Return folders that may hold vision_msgs' ``.msg`` files, most specific first."""
    candidates = [paths.repo_root() / 'third_party' / 'vision_msgs' / 'msg']
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / 'share' / 'vision_msgs' / 'msg')
    return [c for c in candidates if c.is_dir() and any(c.glob('*.msg'))]


@lru_cache(maxsize=1)
def typestore():
    """Return the Jazzy typestore with vision_msgs registered.

    Raises:
        BagError: no vision_msgs message definitions were found.

    """
    store = get_typestore(Stores.ROS2_JAZZY)
    folders = vision_msgs_dirs()
    if not folders:
        raise BagError('vision_msgs message definitions (.msg) not found in third_party/ or '
                       'in $AMENT_PREFIX_PATH/share/vision_msgs/msg')
    types: Dict = {}
    for path in sorted(folders[0].glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'vision_msgs/msg/{path.stem}'))
    lane_folders = interface_dirs('seg_perception_msgs')
    for path in sorted(lane_folders[0].glob('*.msg')) if lane_folders else ():
        types.update(get_types_from_msg(path.read_text(),
                                        f'seg_perception_msgs/msg/{path.stem}'))
    store.register(types)
    return store


def interface_dirs(package: str) -> List[Path]:
    """Return folders that may hold ``package``'s ``.msg`` files (third_party/ first)."""
    candidates = [paths.repo_root() / 'third_party' / package / 'msg']
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / 'share' / package / 'msg')
    return [c for c in candidates if c.is_dir() and any(c.glob('*.msg'))]


def offered_qos(latched: bool = False, depth: int = 2) -> List[Qos]:
    """Return the offered QoS recorded for a topic: reliable; transient local when latched.

    ``ros2 bag play`` offers this QoS, so a latched topic (``label_info``) reaches late readers.
    """
    unset = QosTime(sec=0, nsec=0)
    return [Qos(history=QosHistory.KEEP_LAST, depth=1 if latched else depth,
                reliability=QosReliability.RELIABLE,
                durability=QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE,
                deadline=unset, lifespan=unset, liveliness=QosLiveliness.AUTOMATIC,
                liveliness_lease_duration=unset, avoid_ros_namespace_conventions=False)]


def storage_plugin(storage: str) -> StoragePlugin:
    """Return the rosbags storage plugin of ``'sqlite3'`` or ``'mcap'``.

    Raises:
        BagError: an unknown storage name.

    """
    if storage not in STORAGES:
        raise BagError(f'unknown storage {storage!r}: use one of {", ".join(STORAGES)}')
    return StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3


def bag_storage(path: Path) -> str:
    """Return the storage format (``'sqlite3'`` or ``'mcap'``) of a bag folder or bag file."""
    path = Path(path)
    if path.is_file():
        return 'mcap' if path.suffix == '.mcap' else 'sqlite3'
    if any(path.glob('*.mcap')):
        return 'mcap'
    return 'sqlite3'


def read_error(path: Path, error: BaseException) -> BagReadError:
    """Return a ``BagReadError`` naming the bag and the reason of a reader exception."""
    reason = str(error).strip() or type(error).__name__
    if not isinstance(error, ReaderError) and 'malformed' not in reason:
        reason = f'truncated or corrupt data ({type(error).__name__}: {reason})'
    return BagReadError(f'{path}: {reason}')


class CheckedReader(Reader):
    """A rosbags ``Reader`` whose read failures are ``BagReadError`` naming the bag.

    Opening (metadata, storage headers) and iterating ``messages()`` are checked; exceptions
    raised by the caller's own code between two messages are left alone.
    """

    def open(self) -> None:
        """Open the bag; raise ``BagReadError`` when its metadata or storage is damaged."""
        try:
            super().open()
        except READ_ERRORS as error:
            raise read_error(self.path, error) from error

    def messages(self, connections=(), start=None, stop=None):
        """Yield ``(connection, bag time ns, raw CDR bytes)`` as ``Reader.messages`` does.

        Raises:
            BagReadError: a storage file is corrupt or truncated: a read failed, or a full
                read (no ``start`` / ``stop``) gave fewer messages than the bag announces.

        """
        expected = sum(c.msgcount for c in (connections or self.connections))
        count = 0
        try:
            for item in super().messages(connections, start, stop):
                count += 1
                yield item
        except READ_ERRORS as error:
            raise read_error(self.path, error) from error
        if start is None and stop is None and count < expected:
            raise BagReadError(f'{self.path}: its metadata announces {expected} messages but '
                               f'only {count} could be read (truncated or corrupt)')


def is_bag(path: Path) -> bool:
    """Whether ``path`` is a rosbag2 folder (has metadata.yaml) or a single .mcap/.db3 file."""
    path = Path(path)
    if path.is_dir():
        return (path / 'metadata.yaml').is_file()
    return path.is_file() and path.suffix in SINGLE_FILE_SUFFIXES


def open_reader(path: Path) -> Reader:
    """Open a bag for reading (call ``.open()`` or use it as a context manager).

    Args:
        path: a rosbag2 folder (with ``metadata.yaml``) or a single ``.mcap`` / ``.db3`` file.

    Raises:
        BagError: the path is neither.
        BagReadError: (on ``open()`` or while reading messages) the bag is damaged.

    """
    path = Path(path)
    if not is_bag(path):
        raise BagError(f'{path} is not a rosbag2 folder (no metadata.yaml) or .mcap file')
    return CheckedReader(path)


def open_writer(path: Path, storage: str, overwrite: bool = False) -> Writer:
    """Return a ``Writer`` for a new bag folder at ``path`` (not opened yet).

    Raises:
        BagError: an unknown storage, or ``path`` exists and ``overwrite`` is False.

    """
    path = Path(path)
    plugin = storage_plugin(storage)
    if path.exists():
        if not overwrite:
            raise BagError(f'output bag {path} already exists (use --overwrite to replace it)')
        shutil.rmtree(path)
    return Writer(path, version=BAG_VERSION, storage_plugin=plugin)


def camera_connections(reader: Reader, topics: Optional[List[str]] = None) -> List:
    """Return the reader's connections of camera topics (Image or CompressedImage).

    Args:
        reader: an open reader.
        topics: the topics wanted; None = every Image and CompressedImage topic.

    Raises:
        BagError: a named topic is missing or not an image, or the bag has no image topic.

    """
    by_topic = {c.topic: c for c in reader.connections}
    if topics:
        for topic in topics:
            if topic not in by_topic:
                raise BagError(f'topic {topic} is not in the bag (it has: '
                               f'{", ".join(sorted(by_topic)) or "no topics"})')
            if by_topic[topic].msgtype not in CAMERA_TYPES:
                raise BagError(f'topic {topic} is {by_topic[topic].msgtype}, not an image')
        return [c for c in reader.connections if c.topic in topics]
    found = [c for c in reader.connections if c.msgtype in CAMERA_TYPES]
    if not found:
        raise BagError('the bag has no sensor_msgs/Image or CompressedImage topic (it has: '
                       f'{", ".join(sorted(by_topic)) or "no topics"})')
    return found


def image_to_array(msg) -> np.ndarray:
    """Return the pixels of a typestore ``sensor_msgs/Image`` of rgb8, bgr8, mono8 or mono16.

    Returns:
        (H, W, 3) uint8 RGB for colour encodings, (H, W) uint8 or uint16 for mono ones.

    Raises:
        ValueError: another encoding, or data shorter than ``height * step``.

    """
    layouts = {'rgb8': (3, np.uint8), 'bgr8': (3, np.uint8), 'mono8': (1, np.uint8),
               'mono16': (1, np.uint16)}
    if msg.encoding not in layouts:
        raise ValueError(f'image encoding {msg.encoding!r} is not supported here')
    channels, dtype = layouts[msg.encoding]
    row_bytes = msg.width * channels * np.dtype(dtype).itemsize
    data = np.asarray(msg.data, dtype=np.uint8)
    if msg.step < row_bytes or data.size < msg.height * msg.step:
        raise ValueError(f'{msg.encoding} image {msg.width}x{msg.height} step {msg.step} has '
                         f'{data.size} bytes, needs {msg.height * msg.step}')
    rows = data[:msg.height * msg.step].reshape(msg.height, msg.step)[:, :row_bytes]
    pixels = np.ascontiguousarray(rows).view(
        np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<'))
    pixels = pixels.astype(dtype).reshape(
        (msg.height, msg.width, channels) if channels == 3 else (msg.height, msg.width))
    return pixels[:, :, ::-1].copy() if msg.encoding == 'bgr8' else pixels
