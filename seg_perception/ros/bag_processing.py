"""Run the node's pipeline over the camera topics of a bag and write its outputs into a new bag.

Messages are deserialized and serialized with rclpy (CDR, as the node sends them), and the
outputs are built by the node's own message builder (``frame_io.result_messages``), so a bag
holds what the node would publish. Cameras are lifted to 3D (``objects_3d``) as in the node
when the settings ask for it and the bag holds their ``camera_info`` (and the depth / LiDAR
topics the lifting method needs). No DDS is involved.
"""

from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Callable, Dict, List, Optional

from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from seg_perception import topics
from seg_perception.pipeline import Pipeline
from seg_perception.ros import bag_io
from seg_perception.ros.frame_io import frame_from_msg, result_messages
from seg_perception.ros.lane_messages import lanes_available
from seg_perception.ros.messages import label_info_msg
from seg_perception.ros.sensor_conversions import SensorConversionError
from seg_perception.ros.stream_lifting import LiftingError, StreamLifting
from seg_perception.settings import CameraLifting, NodeSettings

#: Output name -> message type in the bag, for every output ``process`` writes.
OUTPUT_TYPES = {
    'semantic': 'sensor_msgs/msg/Image',
    'instances': 'sensor_msgs/msg/Image',
    'overlay': 'sensor_msgs/msg/Image',
    'detections': 'vision_msgs/msg/Detection2DArray',
    'markers': 'visualization_msgs/msg/MarkerArray',
    'label_info': 'vision_msgs/msg/LabelInfo',
    'objects_3d': 'vision_msgs/msg/Detection3DArray',
}
#: The lane lines, written when seg_perception_msgs is built (``lane_messages``).
LANES_TYPE = 'seg_perception_msgs/msg/LaneArray'


@dataclass
class ProcessStats:
    """What ``process_bag`` did.

    Attributes:
        frames: input frames segmented and written.
        skipped: input frames that could not be read or segmented.
        seconds: wall-clock time of the whole run, seconds.
        written: output topic -> messages written.

    """

    frames: int = 0
    skipped: int = 0
    seconds: float = 0.0
    written: Dict[str, int] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames segmented per second of wall-clock time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _Camera:
    """Output connections of one input topic, and its 3D lifting when it has one."""

    def __init__(self, writer, topic: str, store, lifting: Optional[StreamLifting] = None):
        self.namespace = topics.camera_namespace(topic)
        self.names = topics.output_topics(topic)
        self.lifting = lifting
        self.connections = {
            name: writer.add_connection(
                self.names[name], msgtype, typestore=store,
                offered_qos_profiles=bag_io.offered_qos(latched=name == 'label_info'))
            for name, msgtype in _output_types(store).items()
            if name != 'objects_3d' or lifting is not None}
        self.label_info_written = False


def _output_types(store) -> Dict[str, str]:
    """Return ``OUTPUT_TYPES``, plus ``lanes`` when its message type is known here."""
    types = dict(OUTPUT_TYPES)
    if lanes_available() and LANES_TYPE in store.types:
        types['lanes'] = LANES_TYPE
    return types


def camera_lifting(settings: NodeSettings, topic: str) -> CameraLifting:
    """Return the lifting settings of a bag's camera topic.

    A topic named in the settings' ``image_topics`` takes its own entry; any other topic the
    first one (a parameter file usually holds one entry for all cameras).
    """
    if topic in settings.image_topics:
        return settings.lifting[settings.image_topics.index(topic)]
    return settings.lifting[0] if settings.lifting else CameraLifting(method='none')


def process_bag(in_bag: Path, out_bag: Path, pipeline: Pipeline,
                image_topics: Optional[List[str]] = None, include_inputs: bool = False,
                storage: Optional[str] = None, overlay_alpha: float = 0.5, limit: int = 0,
                overwrite: bool = False,
                progress: Optional[Callable[[int, int, float], None]] = None,
                warn: Optional[Callable[[str], None]] = None,
                settings: Optional[NodeSettings] = None) -> ProcessStats:
    """Segment every camera message of ``in_bag`` and write the contract's outputs to ``out_bag``.

    Args:
        in_bag: rosbag2 folder (sqlite3 or mcap).
        out_bag: rosbag2 folder to create.
        pipeline: the segmenter and trackers (one tracker per camera namespace).
        image_topics: camera topics to process; None = every Image / CompressedImage topic.
        include_inputs: also copy the processed camera topics, and their sibling
            ``camera_info`` topics, into ``out_bag``.
        storage: ``'sqlite3'`` or ``'mcap'``; None = the input bag's.
        overlay_alpha: colour weight of the overlay, 0..1.
        limit: stop after this many frames (0 = all).
        overwrite: replace ``out_bag`` if it exists.
        progress: called after each frame with (frames done, frames in the bag, frames/s).
        warn: called with the reason of each skipped frame.
        settings: the node settings the pipeline was built from; their lifting settings and
            ``base_frame`` give ``objects_3d`` for cameras whose ``camera_info`` is in the bag.
            None = no 3D outputs.

    Every output message has the input's header and is written at the input's bag time;
    ``label_info`` is written once per camera, with the camera's first header.

    Raises:
        BagError: unreadable input, missing or non-image topic, unknown storage, empty bag.

    """
    warn = warn or (lambda text: None)
    stats = ProcessStats()
    start = time.perf_counter()
    store = bag_io.typestore()
    with bag_io.open_reader(in_bag) as reader:
        connections = bag_io.camera_connections(reader, image_topics)
        total = sum(c.msgcount for c in connections)
        if total == 0:
            raise bag_io.BagError(f'{in_bag}: the camera topics hold no messages')
        writer = bag_io.open_writer(out_bag, storage or bag_io.bag_storage(in_bag), overwrite)
        with writer:
            sensors = _SensorRouter(reader, connections, settings)
            cameras = {c.topic: _Camera(writer, c.topic, store, sensors.lifting.get(c.topic))
                       for c in connections}
            copied = _copied_connections(reader, connections) if include_inputs else []
            inputs = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=store)
                      for c in copied}
            read = {c.id: c for c in list(connections) + copied + sensors.connections}
            for connection, bag_time, raw in reader.messages(connections=list(read.values())):
                if limit and stats.frames >= limit:
                    break
                if connection.topic in inputs:
                    writer.write(inputs[connection.topic], bag_time, raw)
                if connection.topic not in cameras:
                    sensors.take(connection, raw, warn)
                    continue
                camera = cameras[connection.topic]
                compressed = connection.msgtype == bag_io.COMPRESSED_TYPE
                try:
                    msg, frame = _read_frame(raw, compressed, camera.namespace)
                    result = pipeline.process(frame)
                except Exception as error:  # one bad frame must not end the run
                    stats.skipped += 1
                    warn(f'{connection.topic} at bag time {bag_time}: frame skipped: '
                         f'{type(error).__name__}: {error}')
                    continue
                for text in result.warnings:
                    warn(f'{connection.topic}: {text}')
                objects = _lift(camera, result, warn)
                outputs = _outputs(camera, msg.header, result, pipeline, overlay_alpha, objects,
                                   settings.base_frame if settings else 'base_link')
                for name, out_msg in outputs.items():
                    writer.write(camera.connections[name], bag_time, serialize_message(out_msg))
                    topic = camera.names[name]
                    stats.written[topic] = stats.written.get(topic, 0) + 1
                stats.frames += 1
                stats.seconds = time.perf_counter() - start
                if progress is not None:
                    progress(stats.frames + stats.skipped, total, stats.fps)
    stats.seconds = time.perf_counter() - start
    return stats


def _copied_connections(reader, cameras: List) -> List:
    """Return the camera connections and their sibling ``camera_info`` connections, if any."""
    info_topics = {topics.camera_info_topic(c.topic) for c in cameras}
    return list(cameras) + [c for c in reader.connections
                            if c.topic in info_topics and c.msgtype == bag_io.CAMERA_INFO_TYPE]


def _read_frame(raw: bytes, compressed: bool, namespace: str):
    """Return the rclpy message and the ``Frame`` of one serialized camera message."""
    msg = deserialize_message(bytes(raw), CompressedImage if compressed else Image)
    return msg, frame_from_msg(msg, compressed, namespace)


def _outputs(camera: _Camera, header, result, pipeline: Pipeline, overlay_alpha: float,
             objects, base_frame: str) -> Dict:
    """Return output name -> rclpy message for one frame, as the node publishes them."""
    outputs = {}
    if not camera.label_info_written:
        outputs['label_info'] = label_info_msg(pipeline.segmenter.class_ids, header.stamp,
                                               header.frame_id)
        camera.label_info_written = True
    lanes = camera.lifting.lanes_on_ground(result) if camera.lifting else result.lanes
    outputs.update(result_messages(result, header, camera.namespace, overlay_alpha,
                                   objects_3d=objects, base_frame=base_frame, lanes=lanes))
    if 'lanes' not in camera.connections:
        outputs.pop('lanes', None)
    return outputs


def _lift(camera: _Camera, result, warn: Callable[[str], None]):
    """Return the frame's lifted objects, or None (not lifted, not calibrated yet, or failed)."""
    if camera.lifting is None or not camera.lifting.calibrated:
        return None
    try:
        return camera.lifting.lift(result)
    except (LiftingError, SensorConversionError) as error:
        warn(f'{camera.namespace}: objects_3d skipped: {error}')
    return None


class _SensorRouter:
    """Feeds a bag's camera_info, depth and LiDAR messages to the cameras' ``StreamLifting``.

    Args:
        reader: the open input bag.
        cameras: the camera connections being processed.
        settings: lifting settings and ``base_frame``; None = no lifting.

    Attributes:
        lifting: camera topic -> its ``StreamLifting`` (cameras whose camera_info is in the bag).
        connections: the sensor connections to read along with the cameras.

    """

    def __init__(self, reader, cameras: List, settings: Optional[NodeSettings]):
        self.lifting: Dict[str, StreamLifting] = {}
        self.connections: List = []
        self._routes: Dict[int, List] = {}
        if settings is None:
            return
        by_topic = {c.topic: c for c in reader.connections}
        for camera in cameras:
            config = camera_lifting(settings, camera.topic)
            info = by_topic.get(topics.camera_info_topic(camera.topic))
            if config.method == 'none' or info is None:
                continue
            lifting = StreamLifting(config.method, config.pose, settings.lidar_pose)
            self.lifting[camera.topic] = lifting
            self._route(info, CameraInfo, lifting.on_camera_info)
            # The bag's first CameraInfo calibrates the camera from its first frame on, even
            # where the recorder wrote that frame's image before its camera_info.
            for connection, _, raw in reader.messages(connections=[info]):
                self.take(connection, raw, lambda text: None)
                break
            depth = by_topic.get(config.depth_topic) if config.method == 'depth' else None
            if depth is not None:
                self._route(depth, Image, lifting.on_depth)
            lidar = by_topic.get(settings.lidar_topic) if config.method == 'lidar' else None
            if lidar is not None:
                self._route(lidar, PointCloud2, lifting.on_cloud)

    def _route(self, connection, msg_type, handler) -> None:
        if connection.id not in self._routes:
            self.connections.append(connection)
        self._routes.setdefault(connection.id, []).append((msg_type, handler))

    def take(self, connection, raw: bytes, warn: Callable[[str], None]) -> None:
        """Hand one serialized sensor message to the liftings that use its topic."""
        for msg_type, handler in self._routes.get(connection.id, ()):
            try:
                handler(deserialize_message(bytes(raw), msg_type))
            except ValueError as error:  # SensorConversionError or an unsupported model
                warn(f'{connection.topic}: rejected: {error}')
