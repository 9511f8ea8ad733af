"""Drive a running segmentation node with frames over the ROS graph and collect its outputs.

Used by ``seg-perception drive`` and the integration tests: each frame is published as a camera
message and, in lock-step, the driver waits for the node's outputs with that frame's stamp before
sending the next one, so no frame is dropped however slow the model is.
"""

import contextlib
from dataclasses import dataclass, field
import threading
import time
from typing import Dict, List, Optional

import cv2
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, Detection3DArray, LabelInfo
from visualization_msgs.msg import MarkerArray

from seg_perception import topics
from seg_perception.ros.conversions import array_to_image_msg, image_msg_to_rgb, stamp_to_ns
from seg_perception.ros.lane_messages import LaneArray

_RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)
#: Message type of each output that is not a sensor_msgs/Image.
_OUTPUT_TYPES = {'detections': Detection2DArray, 'markers': MarkerArray,
                 'objects_3d': Detection3DArray}
if LaneArray is not None:
    _OUTPUT_TYPES['lanes'] = LaneArray
_LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def ns_to_header(stamp_ns: int, frame_id: str) -> Header:
    """Return a ``std_msgs/Header`` with the given stamp (nanoseconds) and frame id."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return header


def make_camera_msg(rgb: np.ndarray, header: Header, encoding: str = 'rgb8'):
    """Encode a (H, W, 3) uint8 RGB frame as Image (rgb8 / bgr8 / mono8) or jpeg CompressedImage.

    Args:
        rgb: the frame.
        header: stamp and frame id of the message.
        encoding: ``'rgb8'``, ``'bgr8'``, ``'mono8'`` or ``'jpeg'`` (CompressedImage).

    """
    if encoding == 'jpeg':
        ok, encoded = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise ValueError('jpeg encoding failed')
        msg = CompressedImage(header=header, format='jpeg')
        msg.data = encoded.tobytes()
        return msg
    if encoding == 'rgb8':
        return array_to_image_msg(rgb, header, 'rgb8')
    if encoding == 'bgr8':
        msg = array_to_image_msg(np.ascontiguousarray(rgb[:, :, ::-1]), header, 'rgb8')
        msg.encoding = 'bgr8'
        return msg
    if encoding == 'mono8':
        return array_to_image_msg(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), header, 'mono8')
    raise ValueError(f'unknown camera encoding {encoding!r}')


@dataclass
class FrameOutputs:
    """What the node published for one input stamp (messages as received)."""

    sent_s: float
    messages: Dict[str, object] = field(default_factory=dict)
    received_s: Dict[str, float] = field(default_factory=dict)


class NodeDriver(Node):
    """Publishes camera frames on one topic and gathers the node's outputs by stamp.

    Args:
        image_topic: input topic of the segmentation node (``/compressed`` = CompressedImage).
        outputs: output names to subscribe to (see ``topics.OUTPUT_NAMES``); subscribing to
            ``overlay`` makes the node render it.

    """

    def __init__(self, image_topic: str, outputs=('semantic', 'instances', 'overlay'),
                 node_name: str = 'seg_perception_driver'):
        super().__init__(node_name)
        self.image_topic = image_topic
        self._lock = threading.Condition()
        self.frames: Dict[int, FrameOutputs] = {}
        self.label_info: Optional[LabelInfo] = None
        message_type = CompressedImage if topics.is_compressed_topic(image_topic) else Image
        self.publisher = self.create_publisher(message_type, image_topic, _RELIABLE)
        names = topics.output_topics(image_topic)
        self.output_names = tuple(outputs)
        self._output_subscriptions = [
            self.create_subscription(_OUTPUT_TYPES.get(name, Image), names[name],
                                     lambda msg, n=name: self._on_output(n, msg), _RELIABLE)
            for name in self.output_names
        ]
        self._output_subscriptions.append(self.create_subscription(
            LabelInfo, names['label_info'], self._on_label_info, _LATCHED))

    def _on_output(self, name: str, msg) -> None:
        header = msg.markers[0].header if name == 'markers' and msg.markers else msg.header
        with self._lock:
            outputs = self.frames.get(stamp_to_ns(header.stamp))
            if outputs is not None:
                outputs.messages[name] = msg
                outputs.received_s[name] = time.monotonic()
                self._lock.notify_all()

    def _on_label_info(self, msg: LabelInfo) -> None:
        with self._lock:
            self.label_info = msg
            self._lock.notify_all()

    def wait_until_connected(self, timeout_s: float = 30.0) -> bool:
        """Wait for the node: it subscribes to our topic and its label_info has arrived."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while time.monotonic() < deadline:
                if self.publisher.get_subscription_count() > 0 and self.label_info is not None:
                    return True
                self._lock.wait(timeout=0.1)
        return False

    def send(self, msg) -> FrameOutputs:
        """Publish a camera message and start collecting the outputs with its stamp."""
        outputs = FrameOutputs(sent_s=time.monotonic())
        with self._lock:
            self.frames[stamp_to_ns(msg.header.stamp)] = outputs
        self.publisher.publish(msg)
        return outputs

    def wait_for(self, stamp_ns: int, names=None, timeout_s: float = 60.0) -> bool:
        """Wait until every output in ``names`` (default: all subscribed) has this stamp."""
        wanted = set(names or self.output_names)
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while time.monotonic() < deadline:
                if wanted <= set(self.frames[stamp_ns].messages):
                    return True
                self._lock.wait(timeout=0.1)
        return False

    def forget(self, stamp_ns: int) -> None:
        """Drop what was collected for a stamp (long runs would otherwise keep every image)."""
        with self._lock:
            self.frames.pop(stamp_ns, None)

    def send_lockstep(self, msg, names=None, timeout_s: float = 60.0,
                      retries: int = 2) -> Optional[FrameOutputs]:
        """Send a frame and wait for its outputs, resending if the first copy was lost.

        Returns:
            the outputs, or None when they did not all arrive after ``retries`` resends.

        """
        stamp_ns = stamp_to_ns(msg.header.stamp)
        for _ in range(retries + 1):
            outputs = self.send(msg)
            if self.wait_for(stamp_ns, names, timeout_s):
                return outputs
        return None


def decode_output(msg: Image) -> np.ndarray:
    """Return an output image as (H, W) uint8 / uint16 masks or (H, W, 3) uint8 RGB."""
    if msg.encoding == 'mono8':
        return np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, :msg.width]
    if msg.encoding == 'mono16':
        rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
        return rows[:, :msg.width * 2].view('<u2' if not msg.is_bigendian else '>u2')
    return image_msg_to_rgb(msg)


@contextlib.contextmanager
def ros_context():
    """Initialise rclpy for the duration of a ``with`` block (tools use it, not rclpy itself)."""
    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


def spin_in_background(node: Node) -> List:
    """Spin ``node`` on a daemon thread; return a handle for ``stop_spinning``."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    running = threading.Event()
    running.set()

    def spin() -> None:
        # spin_once in a loop rather than spin(): shutting an executor down while another
        # thread is inside spin() can raise there (its guard condition is already gone).
        while running.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return [executor, thread, running]


def stop_spinning(handle: List) -> None:
    """Stop an executor started by ``spin_in_background``."""
    executor, thread, running = handle
    running.clear()
    thread.join(timeout=5.0)
    executor.shutdown()
