"""The ROS 2 node: camera topics in, segmentation topics out (see the topic contract in README)."""

import queue
import sys
import threading
import time
from typing import Callable, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from vision_msgs.msg import Detection2DArray, Detection3DArray, LabelInfo
from visualization_msgs.msg import MarkerArray

from seg_perception import topics
from seg_perception.backends.base import BackendError, Segmenter
from seg_perception.build import build_pipeline, build_segmenter
from seg_perception.pipeline import Pipeline
from seg_perception.rate_limit import message_kind, RateLimiter
from seg_perception.ros import parameters
from seg_perception.ros.camera_stream import CameraStream
from seg_perception.ros.conversions import ImageConversionError, MessageBufferPool
from seg_perception.ros.diagnostics import diagnostic_status
from seg_perception.ros.frame_io import frame_from_msg, result_messages
from seg_perception.ros.lane_messages import LaneArray
from seg_perception.ros.messages import label_info_msg
from seg_perception.ros.sensor_conversions import SensorConversionError
from seg_perception.ros.stream_lifting import LiftingError, StreamLifting
from seg_perception.settings import NodeSettings, with_node_batches
from seg_perception.stream_stats import StreamStats
from seg_perception.structures import Frame, FrameResult
from seg_perception.tracking.ids import TrackIdCounter
from seg_perception.weights import WeightsError

#: Seconds between two log lines about the same kind of bad input on one camera.
_WARN_PERIOD_S = 5.0


def _describe(error: Exception) -> str:
    """Return an error's message; unexpected kinds get their type name in front."""
    if isinstance(error, (WeightsError, BackendError, ValueError)):
        return str(error)
    return f'{type(error).__name__}: {error}'


class SegmentationNode(LifecycleNode):
    """Segments every camera of ``image_topics`` and publishes the contract's outputs.

    A managed (lifecycle) node. ``configure`` reads the parameters, loads the model and creates
    the publishers and ``/diagnostics``; ``activate`` publishes ``label_info``, subscribes to the
    cameras and starts the worker; ``deactivate`` unsubscribes, stops the worker and releases
    the model (freeing accelerator memory; the next ``activate`` loads it again, trackers and
    their ids are kept); ``cleanup`` and ``shutdown`` release everything. With the parameter
    ``autostart`` the node configures and activates itself at start.

    Image callbacks only keep the newest message per camera; a worker thread takes the newest
    message of the cameras that have one, least recently served first (at most
    ``max_batch_frames``; by default every waiting camera on CUDA, and on the CPU as many as
    the engine runs side by side: OpenVINO one per stream, one per camera up to its threads,
    the others one) and runs them through the model as one batch; a second thread tracks,
    resizes and publishes that batch while the first runs the model on the next one (the
    forward pass releases the GIL). Every camera has its own
    tracker; all take ids from one counter that lives as long as the node, so an id names one
    object in the whole node's life.
    A message replaced before the worker took it is counted as dropped, so latency stays bounded
    when cameras are faster than the model.

    Args:
        segmenter_factory: builds the segmenter from the settings; default: the registry
            backend named by the ``backend`` parameter.
        **kwargs: passed to ``rclpy.lifecycle.LifecycleNode``.

    """

    def __init__(self, segmenter_factory: Optional[Callable[[NodeSettings], Segmenter]] = None,
                 **kwargs):
        super().__init__('seg_perception', **kwargs)
        parameters.declare_parameters(self)
        self._segmenter_factory = segmenter_factory or build_segmenter
        self.settings: Optional[NodeSettings] = None
        self.pipeline: Optional[Pipeline] = None
        self.streams: List[CameraStream] = []
        self.last_error = ''
        self._active = False
        self._condition = threading.Condition()
        self._log_limiter = RateLimiter(_WARN_PERIOD_S)
        self._stopping = True
        self._worker: Optional[threading.Thread] = None
        self._finisher: Optional[threading.Thread] = None
        # Segmented batches waiting for tracking and publishing: one at most, so the model runs
        # ahead of the publisher by one batch and latency stays bounded.
        self._handoff: queue.Queue = queue.Queue(maxsize=1)
        self._diagnostics = None
        self._diagnostics_timer = None
        self._lidar_subscription = None
        self._batch_limit = 0
        # One id counter for the node's life: ids stay unique across its cameras and across
        # cleanup / configure, which makes new trackers.
        self._track_ids = TrackIdCounter()

    # --- lifecycle transitions -------------------------------------------------------------

    def autostart(self) -> bool:
        """Configure and activate; return False (reason in ``last_error``) if either fails."""
        return self.trigger_configure() == TransitionCallbackReturn.SUCCESS and \
            self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read the parameters, load the model, create the publishers and diagnostics."""
        try:
            self.settings = parameters.read_settings(self)
            segmenter = self._new_segmenter()
        except Exception as error:  # whatever stops the model loading fails the transition
            self.last_error = _describe(error)
            self.get_logger().error(f'configure failed: {self.last_error}')
            return TransitionCallbackReturn.FAILURE
        self.pipeline = build_pipeline(self.settings, segmenter, self._track_ids,
                                       allocate_labels=MessageBufferPool())
        self.streams = [self._open_stream(t) for t in self.settings.image_topics]
        self._batch_limit = self.settings.max_batch_frames or (
            segmenter.parallel_frames if str(segmenter.device).startswith('cpu') else 0)
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diagnostics_timer = self.create_timer(self.settings.diagnostics_period_s,
                                                    self._publish_diagnostics)
        engines = getattr(segmenter, 'engine_description', '')
        self.get_logger().info(
            f'configured: {", ".join(self.settings.image_topics)} with '
            f'{segmenter.name or self.settings.backend} on {segmenter.device}'
            + (f' ({engines})' if engines else ''))
        return super().on_configure(state)

    def _new_segmenter(self) -> Segmenter:
        """Build the model, asking its engine for the frames the node batches side by side."""
        return self._segmenter_factory(with_node_batches(self.settings))

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model again if deactivate released it, subscribe and start the worker."""
        if self.pipeline.segmenter is None:
            try:
                self.pipeline.segmenter = self._new_segmenter()
            except Exception as error:  # whatever stops the model loading fails the transition
                self.last_error = _describe(error)
                self.get_logger().error(f'activate failed: {self.last_error}')
                return TransitionCallbackReturn.FAILURE
        result = super().on_activate(state)
        class_ids = self.pipeline.segmenter.class_ids
        for stream in self.streams:
            stream.stats = StreamStats()
            stream.publishers['label_info'].publish(
                label_info_msg(class_ids, self.get_clock().now().to_msg()))
            message_type = CompressedImage if stream.compressed else Image
            stream.subscription = self.create_subscription(
                message_type, stream.topic, lambda msg, s=stream: self._on_image(s, msg),
                parameters.input_qos(self.settings))
            if stream.lifting is not None:
                self._subscribe_sensors(stream)
        lidar_streams = [s for s in self.streams
                         if s.lifting is not None and s.lifting.method == 'lidar']
        if lidar_streams:
            self._lidar_subscription = self.create_subscription(
                PointCloud2, self.settings.lidar_topic,
                lambda msg: [s.lifting.on_cloud(msg) for s in lidar_streams],
                parameters.input_qos(self.settings))
        self._stopping = False
        self._worker = threading.Thread(target=self._work, name='segmentation', daemon=True)
        self._finisher = threading.Thread(target=self._finish_work, name='publishing',
                                          daemon=True)
        self._finisher.start()
        self._worker.start()
        self._active = True
        self.get_logger().info(f'active: segmenting {", ".join(self.settings.image_topics)}')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, stop the worker and release the model."""
        self._stop_work()
        self.get_logger().info('inactive: cameras unsubscribed, model released')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the publishers and the diagnostics timer; forget the model and trackers."""
        self._release_all()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and release everything, from whichever state the node was in."""
        self._stop_work()
        self._release_all()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything; the node goes back to unconfigured."""
        self._stop_work()
        self._release_all()
        return TransitionCallbackReturn.SUCCESS

    def _stop_work(self) -> None:
        self._active = False
        for stream in self.streams:
            for subscription in [stream.subscription] + stream.sensor_subscriptions:
                if subscription is not None:
                    self.destroy_subscription(subscription)
            stream.subscription, stream.sensor_subscriptions = None, []
        if self._lidar_subscription is not None:
            self.destroy_subscription(self._lidar_subscription)
            self._lidar_subscription = None
        with self._condition:
            self._stopping = True
            for stream in self.streams:
                stream.pending = None
            self._condition.notify_all()
        if self._worker is not None and self._worker.is_alive():
            self._worker.join(timeout=30.0)
        self._worker = None
        if self._finisher is not None and self._finisher.is_alive():
            self._handoff.put(None)  # after what the worker handed over: it is finished first
            self._finisher.join(timeout=30.0)
        self._finisher = None
        if self.pipeline is not None and self.pipeline.segmenter is not None:
            self.pipeline.segmenter.release()
            self.pipeline.segmenter = None

    def shutdown_work(self) -> None:
        """Stop the worker and release the model, whatever the state (used at process exit)."""
        self._stop_work()

    def _release_all(self) -> None:
        for stream in self.streams:
            for publisher in stream.publishers.values():
                self.destroy_lifecycle_publisher(publisher)
        self.streams = []
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        if self._diagnostics is not None:
            self.destroy_publisher(self._diagnostics)
            self._diagnostics = None
        self.pipeline = None

    # --- data path -------------------------------------------------------------------------

    def _open_stream(self, topic: str) -> CameraStream:
        stream = CameraStream(topic=topic, namespace=topics.camera_namespace(topic),
                              compressed=topics.is_compressed_topic(topic))
        names = topics.output_topics(topic)
        out_qos = parameters.output_qos(self.settings)
        types = {'semantic': Image, 'instances': Image, 'overlay': Image,
                 'detections': Detection2DArray, 'markers': MarkerArray}
        stream.publishers = {name: self.create_lifecycle_publisher(msg_type, names[name], out_qos)
                             for name, msg_type in types.items()}
        stream.publishers['label_info'] = self.create_lifecycle_publisher(
            LabelInfo, names['label_info'], parameters.latched_qos())
        if LaneArray is not None:  # seg_perception_msgs built (scripts/setup.sh)
            stream.publishers['lanes'] = self.create_lifecycle_publisher(
                LaneArray, names['lanes'], out_qos)
        lifting = self.settings.lifting[self.settings.image_topics.index(topic)]
        if lifting.method != 'none':
            stream.lifting = StreamLifting(lifting.method, lifting.pose,
                                           self.settings.lidar_pose)
            stream.depth_topic = lifting.depth_topic
            stream.publishers['objects_3d'] = self.create_lifecycle_publisher(
                Detection3DArray, names['objects_3d'], out_qos)
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
            waiting = sorted((s for s in self.streams if s.pending is not None),
                             key=lambda s: s.last_taken_s)  # least recently served first
            taken = [(s, s.pending, s.pending_received_s)
                     for s in waiting[:self._batch_limit or len(waiting)]]
            now = time.monotonic()
            for stream, _, _ in taken:
                stream.pending = None
                stream.last_taken_s = now
            return taken

    def _work(self) -> None:
        """Take the newest frames, run the model, hand the batch over (segmentation thread)."""
        while not self._stopping:
            taken = self._take_pending()
            try:
                segmented = self._segment(taken)
            except Exception as error:  # last resort: the worker must outlive any one batch
                self.get_logger().error(
                    f'unexpected error, {len(taken)} frame(s) lost: {type(error).__name__}: '
                    f'{error}')
                continue
            while segmented is not None and not self._stopping:
                try:
                    self._handoff.put(segmented, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _finish_work(self) -> None:
        """Track, resize and publish each segmented batch in order (publishing thread)."""
        while True:
            segmented = self._handoff.get()
            if segmented is None:
                return
            try:
                self._finish(*segmented)
            except Exception as error:  # last resort: the thread must outlive any one batch
                self.get_logger().error(
                    f'unexpected error, {len(segmented[0])} frame(s) lost: '
                    f'{type(error).__name__}: {error}')

    def _segment(self, taken: List):
        """Convert and segment one batch of (stream, message, received_s).

        Returns:
            (batch of (stream, message, frame, received_s), the backend's results, ms per
            frame), or None when no frame of the batch could be converted or segmented.

        """
        batch = []
        for stream, msg, received_s in taken:
            frame = self._to_frame(stream, msg)
            if frame is not None:
                batch.append((stream, msg, frame, received_s))
        if not batch:
            return None
        try:
            panoptics, segment_ms = self.pipeline.segment([frame for _, _, frame, _ in batch])
        except Exception as error:  # a backend failure must not stop the node
            reason = (f'segmentation failed, {len(batch)} frame(s) skipped: '
                      f'{type(error).__name__}: {error}')
            for stream, _, _, _ in batch:
                stream.stats.on_failed(reason)
            self._log_limited('error', self.settings.backend, reason)
            return None
        return batch, panoptics, segment_ms

    def _finish(self, batch: List, panoptics, segment_ms: float) -> None:
        """Track, resize and publish one segmented batch."""
        results = self.pipeline.finish([frame for _, _, frame, _ in batch], panoptics,
                                       segment_ms)
        for (stream, msg, _, received_s), result in zip(batch, results):
            for warning in result.warnings:
                self._log_limited('warning', stream.topic, warning)
            publish_start = time.monotonic()
            try:
                self._publish(stream, msg, result)
            except Exception as error:  # one bad frame must not end the worker
                reason = f'publishing failed: {type(error).__name__}: {error}'
                stream.stats.on_failed(reason)
                self._log_limited('error', stream.topic, reason)
                continue
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
            line = f'{source}: {text}{more}'
            # One call per level: rclpy refuses a call site whose severity changes between
            # calls ("Logger severity cannot be changed between calls"), which would raise
            # here, in the worker thread.
            if level == 'error':
                self.get_logger().error(line)
            elif level == 'warning':
                self.get_logger().warning(line)
            else:
                self.get_logger().info(line)

    def _publish(self, stream: CameraStream, msg, result: FrameResult) -> None:
        # The overlay and markers cost a render each: built only while someone listens.
        wants_overlay = stream.publishers['overlay'].get_subscription_count() > 0
        objects = self._lift(stream, result) if stream.lifting is not None else None
        outputs = result_messages(
            result, msg.header, stream.namespace,
            overlay_alpha=self.get_parameter('overlay_alpha').value if wants_overlay else None,
            with_markers=stream.publishers['markers'].get_subscription_count() > 0,
            objects_3d=objects, base_frame=self.settings.base_frame,
            lanes=stream.lifting.lanes_on_ground(result) if stream.lifting else result.lanes)
        for name, out_msg in outputs.items():
            stream.publishers[name].publish(out_msg)

    def _lift(self, stream: CameraStream, result: FrameResult):
        """Return the frame's objects in 3D, or None (with a rate-limited warning)."""
        if not stream.lifting.calibrated:
            if not stream.waiting_for_camera_info_logged:  # normal without calibration: once
                stream.waiting_for_camera_info_logged = True
                self.get_logger().info(
                    f'{stream.topic}: objects_3d waits for a CameraInfo on '
                    f'{topics.camera_info_topic(stream.topic)}')
            return None
        unsynced = stream.lifting.unsynced_reason(result.frame.stamp_ns)
        if unsynced:
            self._log_limited('warning', stream.topic,
                              f'objects_3d lifted monocularly: {unsynced}')
        try:
            return stream.lifting.lift(result)
        except LiftingError as error:
            self._log_limited('warning', stream.topic, f'objects_3d skipped: {error}')
        except SensorConversionError as error:
            stream.stats.on_rejected(str(error))
            self._log_limited('warning', stream.topic, f'objects_3d skipped: {error}')
        except Exception as error:  # the frame's 2D outputs must not be lost with its 3D ones
            self._log_limited('error', stream.topic,
                              f'objects_3d skipped: {type(error).__name__}: {error}')
        return None

    def _on_camera_info(self, stream: CameraStream, msg) -> None:
        try:
            if stream.lifting.on_camera_info(msg):
                self.get_logger().info(
                    f'{stream.topic}: camera_info {msg.width}x{msg.height} '
                    f'({msg.distortion_model or "plumb_bob"}); lifting with '
                    f'{stream.lifting.method}')
        except ValueError as error:  # SensorConversionError or an unsupported model
            stream.stats.on_rejected(str(error))
            self._log_limited('warning', stream.topic, f'camera_info rejected: {error}')

    def _subscribe_sensors(self, stream: CameraStream) -> None:
        """Subscribe to the camera_info (and depth) topics of a stream that lifts to 3D."""
        qos = parameters.input_qos(self.settings)
        stream.sensor_subscriptions.append(self.create_subscription(
            CameraInfo, topics.camera_info_topic(stream.topic),
            lambda msg, s=stream: self._on_camera_info(s, msg), qos))
        if stream.lifting.method == 'depth':
            stream.sensor_subscriptions.append(self.create_subscription(
                Image, stream.depth_topic, stream.lifting.on_depth, qos))

    def _publish_diagnostics(self) -> None:
        """Publish one DiagnosticStatus per camera on /diagnostics."""
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for stream in self.streams:
            level, message, values = stream.stats.summary(self.settings.health)
            if not self._active:
                level, message = 0, 'inactive (lifecycle): not subscribed'
            array.status.append(diagnostic_status(
                f'{self.get_name()}: {stream.topic}', stream.namespace or '/', level, message,
                values))
        self._diagnostics.publish(array)


def main(args=None) -> int:
    """Entry point of ``seg_perception_node``."""
    rclpy.init(args=args)
    node = None
    try:
        node = SegmentationNode()
        if node.get_parameter('autostart').value and not node.autostart():
            # Configuration errors: say what is wrong once, clearly, and exit non-zero.
            node.get_logger().fatal(node.last_error or 'autostart failed')
            return 1
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.shutdown_work()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
