"""Run the node's pipeline over the camera topics of a bag and write its outputs into a new bag.

Messages are deserialized and serialized with rclpy (CDR, as the node sends them), so the
outputs are built by the same converters as the node's: ``array_to_image_msg``,
``detections_msg``, ``markers_msg`` and ``label_info_msg``. No DDS is involved.
"""

from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Callable, Dict, List, Optional

from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

from seg_perception import topics
from seg_perception.pipeline import Pipeline
from seg_perception.ros.frame_io import frame_from_msg, result_messages
from seg_perception.ros.lane_messages import lanes_available
from seg_perception.ros.messages import label_info_msg
from seg_perception.tools import bag_io

#: Output name -> message type in the bag, for every output ``process`` writes.
OUTPUT_TYPES = {
    'semantic': 'sensor_msgs/msg/Image',
    'instances': 'sensor_msgs/msg/Image',
    'overlay': 'sensor_msgs/msg/Image',
    'detections': 'vision_msgs/msg/Detection2DArray',
    'markers': 'visualization_msgs/msg/MarkerArray',
    'label_info': 'vision_msgs/msg/LabelInfo',
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
    """Output connections of one input topic."""

    def __init__(self, writer, topic: str, store):
        self.namespace = topics.camera_namespace(topic)
        self.names = topics.output_topics(topic)
        self.connections = {
            name: writer.add_connection(
                self.names[name], msgtype, typestore=store,
                offered_qos_profiles=bag_io.offered_qos(latched=name == 'label_info'))
            for name, msgtype in _output_types(store).items()}
        self.label_info_written = False


def _output_types(store) -> Dict[str, str]:
    """Return ``OUTPUT_TYPES``, plus ``lanes`` when its message type is known here."""
    types = dict(OUTPUT_TYPES)
    if lanes_available() and LANES_TYPE in store.types:
        types['lanes'] = LANES_TYPE
    return types


def process_bag(in_bag: Path, out_bag: Path, pipeline: Pipeline,
                image_topics: Optional[List[str]] = None, include_inputs: bool = False,
                storage: Optional[str] = None, overlay_alpha: float = 0.5, limit: int = 0,
                overwrite: bool = False,
                progress: Optional[Callable[[int, int, float], None]] = None,
                warn: Optional[Callable[[str], None]] = None) -> ProcessStats:
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
            cameras = {c.topic: _Camera(writer, c.topic, store) for c in connections}
            copied = _copied_connections(reader, connections) if include_inputs else []
            inputs = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=store)
                      for c in copied}
            for connection, bag_time, raw in reader.messages(connections=copied or connections):
                if limit and stats.frames >= limit:
                    break
                if connection.topic in inputs:
                    writer.write(inputs[connection.topic], bag_time, raw)
                if connection.topic not in cameras:
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
                outputs = _outputs(camera, msg.header, result, pipeline, overlay_alpha)
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


def _outputs(camera: _Camera, header, result, pipeline: Pipeline, overlay_alpha: float) -> Dict:
    """Return output name -> rclpy message for one frame, as the node publishes them."""
    outputs = {}
    if not camera.label_info_written:
        outputs['label_info'] = label_info_msg(pipeline.segmenter.class_ids, header.stamp,
                                               header.frame_id)
        camera.label_info_written = True
    outputs.update(result_messages(result, header, camera.namespace, overlay_alpha))
    if 'lanes' not in camera.connections:
        outputs.pop('lanes', None)
    return outputs
