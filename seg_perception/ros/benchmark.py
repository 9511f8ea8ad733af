"""Time each stage of the node's per-frame work, with real messages and a real publisher."""

import time
from typing import Callable, Dict, List

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image
import torch

from seg_perception.backends.espnetv2 import ESPNetv2Backend
from seg_perception.instances import panoptic_from_semantic
from seg_perception.overlay import render_overlay
from seg_perception.pipeline import Pipeline
from seg_perception.ros.conversions import array_to_image_msg, image_msg_to_rgb
from seg_perception.ros.driver import make_camera_msg, ns_to_header
from seg_perception.ros.parameters import NodeSettings, output_qos
from seg_perception.structures import Frame
from seg_perception.tracking.tracker import Tracker


def median_ms(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``function()`` over ``repeats`` calls, milliseconds (one warm-up)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def node_overhead(backend: ESPNetv2Backend, rgb: np.ndarray, repeats: int = 5) -> Dict[str, float]:
    """Median milliseconds per stage of one frame through the node's code path.

    Args:
        backend: the ESPNetv2 backend (its preprocessing, network and labelling are timed apart).
        rgb: (H, W, 3) uint8 RGB input frame.
        repeats: timed calls per stage.

    Returns:
        stage name -> median milliseconds; ``outside_network`` is the sum of every stage but
        ``network``.

    """
    header = ns_to_header(1_000_000_000, 'camera')
    msg_rgb8 = make_camera_msg(rgb, header, 'rgb8')
    msg_bgr8 = make_camera_msg(rgb, header, 'bgr8')
    pipeline = Pipeline(backend, Tracker)
    batch = backend.preprocess([rgb])
    with torch.inference_mode():
        logits = backend.network(batch)
    labels, confidence = backend.infer_labels(batch)
    panoptic = panoptic_from_semantic(labels[0], rgb.shape[:2],
                                      backend._options.min_instance_area_px, confidence[0])
    frame = Frame(image=rgb, stamp_ns=1, frame_id='camera', camera='/camera')
    result = pipeline.process(frame)

    def network():
        with torch.inference_mode():
            backend.network(batch)

    def labelling():
        backend.labels_from_logits(logits.float())

    stages = {
        'conversion_in_rgb8': lambda: image_msg_to_rgb(msg_rgb8),
        'conversion_in_bgr8': lambda: image_msg_to_rgb(msg_bgr8),
        'preprocess': lambda: backend.preprocess([rgb]),
        'network': network,
        'labelling': labelling,
        'instances': lambda: panoptic_from_semantic(
            labels[0], rgb.shape[:2], backend._options.min_instance_area_px, confidence[0]),
        'track_and_resize': lambda: pipeline._track_and_resize(frame, panoptic),
        'conversion_out': lambda: (array_to_image_msg(result.semantic, header, 'mono8'),
                                   array_to_image_msg(result.instances, header, 'mono16')),
        'overlay': lambda: array_to_image_msg(
            render_overlay(rgb, result.semantic, result.instances), header, 'rgb8'),
    }
    timings = {name: median_ms(function, repeats) for name, function in stages.items()}
    timings['publish'] = _publish_ms(result, header, repeats)
    timings['outside_network'] = sum(
        v for k, v in timings.items() if k not in ('network', 'conversion_in_bgr8', 'overlay'))
    return timings


def _publish_ms(result, header, repeats: int) -> float:
    """Median time to publish semantic + instances with one subscriber attached."""
    owns_context = not rclpy.ok()
    if owns_context:
        rclpy.init()
    settings = NodeSettings((), '', None, 'reliable', 1, 2, 0.5)
    node = Node('seg_perception_bench')
    try:
        publishers: List = [node.create_publisher(Image, f'/bench/{n}', output_qos(settings))
                            for n in ('semantic', 'instances')]
        # Kept referenced so a matched reader exists while publishing.
        subscribers = [node.create_subscription(Image, f'/bench/{n}', lambda _: None, 10)
                       for n in ('semantic', 'instances')]
        semantic = array_to_image_msg(result.semantic, header, 'mono8')
        instances = array_to_image_msg(result.instances, header, 'mono16')

        def publish():
            publishers[0].publish(semantic)
            publishers[1].publish(instances)
        timing = median_ms(publish, repeats)
        del subscribers
        return timing
    finally:
        node.destroy_node()
        if owns_context:
            rclpy.shutdown()
