"""Publish the camera topics of a rosbag2 into the ROS graph: recorded timing, rate or lock-step.

Lock-step publishes a frame, waits for the node's ``semantic`` output with that frame's stamp, and
only then sends the next, so a test or an evaluation loses no frame however slow the model is.
"""

from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Callable, Dict, List, Optional

from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image

from seg_perception.ros import bag_io
from seg_perception.ros.driver import (NodeDriver, spin_in_background, stamp_to_ns,
                                       stop_spinning)


@dataclass
class ReplayStats:
    """What ``replay_bag`` did.

    Attributes:
        published: messages published, per output topic name (after remapping).
        answered: lock-step frames whose ``semantic`` output arrived.
        unanswered: lock-step frames without output within the timeout (after retries).
        latencies_ms: lock-step publish-to-``semantic`` latency of each answered frame.

    """

    published: Dict[str, int] = field(default_factory=dict)
    answered: int = 0
    unanswered: int = 0
    latencies_ms: List[float] = field(default_factory=list)


def parse_remaps(remaps: List[str]) -> Dict[str, str]:
    """Return {from: to} of ``FROM:=TO`` strings (the ROS 2 remapping syntax).

    Raises:
        ValueError: a string without ``:=`` or with an empty side.

    """
    mapping = {}
    for remap in remaps:
        source, separator, target = remap.partition(':=')
        if not separator or not source or not target:
            raise ValueError(f'remap {remap!r} must look like /from/topic:=/to/topic')
        mapping[source] = target
    return mapping


def replay_bag(bag: Path, rate: float = 1.0, lockstep: bool = False, loop: int = 1,
               remaps: Optional[Dict[str, str]] = None, topics: Optional[List[str]] = None,
               timeout_s: float = 60.0, node_factory: Callable[..., Node] = NodeDriver,
               on_frame: Optional[Callable[[str, int, Optional[float]], None]] = None,
               ) -> ReplayStats:
    """Publish a bag's camera messages (rclpy must be initialised; this spins its own nodes).

    Args:
        bag: rosbag2 folder (sqlite3 or mcap).
        rate: playback speed factor of the recorded timing (ignored in lock-step).
        lockstep: wait for each frame's ``semantic`` output before sending the next.
        loop: how many times to play the bag (stamps then repeat: the node resets its trackers).
        remaps: input topic -> topic to publish on.
        topics: camera topics to play; None = every Image / CompressedImage topic.
        timeout_s: lock-step wait per frame before one resend, seconds.
        node_factory: builds the publishing node per topic (``NodeDriver``'s signature).
        on_frame: called per published frame with (topic, stamp ns, latency ms or None).

    Raises:
        BagError: unreadable bag or missing topic.
        ValueError: non-positive rate or loop count.

    """
    if rate <= 0 or loop < 1:
        raise ValueError(f'rate must be > 0 and loop >= 1, got rate {rate}, loop {loop}')
    remaps = remaps or {}
    stats = ReplayStats()
    with bag_io.open_reader(bag) as reader:
        connections = bag_io.camera_connections(reader, topics)
        drivers = {}
        for index, connection in enumerate(connections):
            target = remaps.get(connection.topic, connection.topic)
            drivers[connection.topic] = node_factory(
                target, ('semantic',) if lockstep else (),
                node_name=f'seg_perception_replay_{index}')
        spinners = [spin_in_background(d) for d in drivers.values()]
        try:
            if lockstep:
                for driver in drivers.values():
                    driver.wait_until_connected(timeout_s)
            for _ in range(loop):
                _play_once(reader, connections, drivers, rate, lockstep, timeout_s, stats,
                           on_frame)
        finally:
            for spinner in spinners:
                stop_spinning(spinner)
            for driver in drivers.values():
                driver.destroy_node()
    return stats


def _play_once(reader, connections, drivers, rate, lockstep, timeout_s, stats, on_frame):
    first_bag_ns = None
    start_s = time.monotonic()
    for connection, bag_ns, raw in reader.messages(connections=connections):
        message_type = CompressedImage if connection.msgtype == bag_io.COMPRESSED_TYPE else Image
        msg = deserialize_message(bytes(raw), message_type)
        driver = drivers[connection.topic]
        if first_bag_ns is None:
            first_bag_ns = bag_ns
        latency_ms = None
        if lockstep:
            outputs = driver.send_lockstep(msg, ('semantic',), timeout_s, retries=1)
            if outputs is None:
                stats.unanswered += 1
            else:
                stats.answered += 1
                latency_ms = 1000.0 * (outputs.received_s['semantic'] - outputs.sent_s)
                stats.latencies_ms.append(latency_ms)
            driver.forget(stamp_to_ns(msg.header.stamp))
        else:
            due_s = start_s + (bag_ns - first_bag_ns) / 1e9 / rate
            time.sleep(max(0.0, due_s - time.monotonic()))
            driver.publisher.publish(msg)
        topic = driver.image_topic
        stats.published[topic] = stats.published.get(topic, 0) + 1
        if on_frame is not None:
            on_frame(topic, stamp_to_ns(msg.header.stamp), latency_ms)
