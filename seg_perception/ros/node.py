"""The ROS 2 node: camera topics in, segmentation topics out (see the topic contract in README)."""

from dataclasses import dataclass, field
import sys
import threading
import time
from typing import Any, Dict, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray, LabelInfo
from visualization_msgs.msg import MarkerArray

from seg_perception import topics
from seg_perception.backends.base import BackendError
from seg_perception.backends.registry import create_backend
from seg_perception.pipeline import Pipeline
from seg_perception.rate_limit import message_kind, RateLimiter
from seg_perception.ros import parameters
from seg_perception.ros.conversions import ImageConversionError
from seg_perception.ros.diagnostics import diagnostic_status
from seg_perception.ros.frame_io import frame_from_msg, result_messages
from seg_perception.ros.messages import label_info_msg
from seg_perception.stream_stats import StreamStats
from seg_perception.structures import Frame, FrameResult
from seg_perception.tracking.tracker import Tracker
from seg_perception.weights import WeightsError

#: Seconds between two log lines about the same kind of bad input on one camera.
_WARN_PERIOD_S = 5.0


@dataclass
class CameraStream:
    """State of one input topic: its publishers, its newest pending message and counters."""

    topic: str
    namespace: str
    compressed: bool
    publishers: Dict[str, Any] = field(default_factory=dict)
    subscription: Any = None
    pending: Any = None
    pending_received_s: float = 0.0
    stats: StreamStats = field(default_factory=StreamStats)


class SegmentationNode(Node):
    """Segments every camera of ``image_topics`` and publishes the contract's outputs.

    Image callbacks only keep the newest message per camera; a worker thread takes the newest
    message of every camera that has one, runs them through the model as one batch and publishes.
    A message replaced before the worker took it is counted as dropped, so latency stays bounded
    when cameras are faster than the model.
    """

    def __init__(self, pipeline: Optional[Pipeline] = None, **kwargs):
        super().__init__('seg_perception', **kwargs)
        parameters.declare_parameters(self)
        self.settings = parameters.read_settings(self)
        if pipeline is None:
            segmenter = create_backend(self.settings.backend, self.settings.backend_options)
            tracker_config = self.settings.tracker
            pipeline = Pipeline(segmenter, lambda: Tracker(tracker_config))
        self.pipeline = pipeline
        self._condition = threading.Condition()
        self._log_limiter = RateLimiter(_WARN_PERIOD_S)
        self._stopping = False
        self.streams: List[CameraStream] = [self._open_stream(t) for t in
                                            self.settings.image_topics]
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(self.settings.diagnostics_period_s,
                                                    self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name='segmentation', daemon=True)
        self._worker.start()
        self.get_logger().info(
            f'segmenting {", ".join(self.settings.image_topics)} with '
            f'{self.settings.backend} on {getattr(self.pipeline.segmenter, "device", "?")}')

    def _open_stream(self, topic: str) -> CameraStream:
        stream = CameraStream(topic=topic, namespace=topics.camera_namespace(topic),
                              compressed=topics.is_compressed_topic(topic))
        names = topics.output_topics(topic)
        out_qos = parameters.output_qos(self.settings)
        stream.publishers = {
            'semantic': self.create_publisher(Image, names['semantic'], out_qos),
            'instances': self.create_publisher(Image, names['instances'], out_qos),
            'overlay': self.create_publisher(Image, names['overlay'], out_qos),
            'detections': self.create_publisher(Detection2DArray, names['detections'], out_qos),
            'markers': self.create_publisher(MarkerArray, names['markers'], out_qos),
            'label_info': self.create_publisher(
                LabelInfo, names['label_info'], parameters.latched_qos()),
        }
        stream.publishers['label_info'].publish(
            label_info_msg(self.pipeline.segmenter.class_ids, self.get_clock().now().to_msg()))
        message_type = CompressedImage if stream.compressed else Image
        stream.subscription = self.create_subscription(
            message_type, topic, lambda msg, s=stream: self._on_image(s, msg),
            parameters.input_qos(self.settings))
        return stream

    def _on_image(self, stream: CameraStream, msg) -> None:
        with self._condition:
            stream.stats.on_received()
            if stream.pending is not None:
                stream.stats.on_dropped()
            stream.pending = msg
            stream.pending_received_s = time.monotonic()
            self._condition.notify()

    def _take_pending(self) -> List:
        with self._condition:
            while not self._stopping and not any(s.pending is not None for s in self.streams):
                self._condition.wait(timeout=0.5)
            taken = [(s, s.pending, s.pending_received_s) for s in self.streams
                     if s.pending is not None]
            for stream, _, _ in taken:
                stream.pending = None
            return taken

    def _work(self) -> None:
        while not self._stopping:
            taken = self._take_pending()
            batch = []
            for stream, msg, received_s in taken:
                frame = self._to_frame(stream, msg)
                if frame is not None:
                    batch.append((stream, msg, frame, received_s))
            if not batch:
                continue
            try:
                results = self.pipeline.process_batch([frame for _, _, frame, _ in batch])
            except Exception as error:  # a backend failure must not stop the node
                reason = (f'segmentation failed, {len(batch)} frame(s) skipped: '
                          f'{type(error).__name__}: {error}')
                for stream, _, _, _ in batch:
                    stream.stats.on_failed(reason)
                self._log_limited('error', self.settings.backend, reason)
                continue
            for (stream, msg, _, received_s), result in zip(batch, results):
                for warning in result.warnings:
                    self._log_limited('warning', stream.topic, warning)
                publish_start = time.monotonic()
                self._publish(stream, msg, result)
                done = time.monotonic()
                stream.stats.on_processed(1000.0 * (done - received_s))
                timings = result.timings_ms
                self.get_logger().debug(
                    f'{stream.topic}: latency {1000.0 * (done - received_s):.1f} ms '
                    f'(segment {timings.get("segment", 0.0):.1f}, track and resize '
                    f'{timings.get("track_and_resize", 0.0):.1f}, publish '
                    f'{1000.0 * (done - publish_start):.1f} ms)')

    def _to_frame(self, stream: CameraStream, msg) -> Optional[Frame]:
        try:
            return frame_from_msg(msg, stream.compressed, stream.namespace)
        except (ImageConversionError, ValueError) as error:
            stream.stats.on_rejected(str(error))
            self._log_limited('warning', stream.topic, f'frame rejected: {error}')
            return None

    def _log_limited(self, level: str, source: str, text: str) -> None:
        """Log at ``level``, at most once per period for each kind of message from a source."""
        suppressed = self._log_limiter.allow((source, message_kind(text)))
        if suppressed is not None:
            more = f' ({suppressed} more like it suppressed)' if suppressed else ''
            getattr(self.get_logger(), level)(f'{source}: {text}{more}')

    def _publish(self, stream: CameraStream, msg, result: FrameResult) -> None:
        # The overlay and markers cost a render each: built only while someone listens.
        wants_overlay = stream.publishers['overlay'].get_subscription_count() > 0
        outputs = result_messages(
            result, msg.header, stream.namespace,
            overlay_alpha=self.get_parameter('overlay_alpha').value if wants_overlay else None,
            with_markers=stream.publishers['markers'].get_subscription_count() > 0)
        for name, out_msg in outputs.items():
            stream.publishers[name].publish(out_msg)

    def _publish_diagnostics(self) -> None:
        """Publish one DiagnosticStatus per camera on /diagnostics."""
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for stream in self.streams:
            level, message, values = stream.stats.summary(self.settings.health)
            array.status.append(diagnostic_status(
                f'{self.get_name()}: {stream.topic}', stream.namespace or '/', level, message,
                values))
        self._diagnostics.publish(array)

    def stop(self) -> None:
        """Stop the worker thread and release the model."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._worker.is_alive():
            self._worker.join(timeout=10.0)
        self.pipeline.segmenter.release()


def main(args=None) -> int:
    """Entry point of ``seg_perception_node``."""
    rclpy.init(args=args)
    node = None
    try:
        node = SegmentationNode()
        rclpy.spin(node)
    except (WeightsError, BackendError, ValueError) as error:
        # Configuration errors: say what is wrong once, clearly, and exit non-zero.
        rclpy.logging.get_logger('seg_perception').fatal(str(error))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.stop()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
