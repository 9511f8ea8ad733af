"""Time each stage of the node's per-frame work, with real messages and a real publisher."""

import threading
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image
import torch

from seg_perception import label_sets
from seg_perception.backends import postprocess_reference as reference
from seg_perception.backends.espnetv2 import (_IMAGENET_MEAN, _IMAGENET_STD,
                                              ESPNetv2Backend)
from seg_perception.build import build_pipeline
from seg_perception.overlay import object_labels, render_overlay
from seg_perception.ros.conversions import (array_to_image_msg, image_msg_to_rgb,
                                            MessageBufferPool)
from seg_perception.ros.driver import make_camera_msg, ns_to_header
from seg_perception.ros.parameters import output_qos
from seg_perception.settings import default_values, settings_from_values
from seg_perception.structures import Frame
from seg_perception.tracking.tracker import Tracker


def in_worker_thread(function: Callable[[], object]) -> object:
    """Run ``function()`` in a new thread, as the node's worker does, and return its result.

    Measured here under load: torch's forward pass took 2.7-2.8 s when called from the main
    thread and 0.9-1.1 s from another thread (OpenMP), so stages are timed where the node runs
    them.
    """
    results = []
    worker = threading.Thread(target=lambda: results.append(function()))
    worker.start()
    worker.join()
    return results[0]


def median_ms(function: Callable[[], object], repeats: int,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Median time of ``function()`` over ``repeats`` calls, milliseconds (one warm-up).

    ``clock`` is wall time by default; ``time.process_time`` gives the CPU time of this
    process (all its threads), which a machine shared with other jobs inflates far less.
    """
    function()
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append((clock() - start) * 1000.0)
    return float(np.median(times))


#: Stages that are not the node's own per-frame work on the default path.
_NOT_OWN_WORK = ('network', 'conversion_in_bgr8', 'overlay', 'label_head_in_graph')


def node_overhead(backend: ESPNetv2Backend, rgb: np.ndarray, repeats: int = 5
                  ) -> Dict[str, Dict[str, float]]:
    """Median milliseconds per stage of one frame through the node's code path, now and before.

    Args:
        backend: the ESPNetv2 backend (its resize, engine call and instances are timed apart).
        rgb: (H, W, 3) uint8 RGB input frame.
        repeats: timed calls per stage.

    Returns:
        ``{'after': stages, 'before': stages}``, stage name -> median wall milliseconds, and
        the same as ``'after_cpu'`` / ``'before_cpu'`` in process CPU milliseconds.
        ``outside_network`` sums every stage but the engine call (``network``: normalisation,
        forward, argmax, label lookup and sparse confidence in one graph), bgr8 input and the
        overlay (built only while subscribed). ``label_head_in_graph`` is the torch time of the
        graph's argmax + lookup + confidence, part of ``network`` (shown, not summed).
        ``before`` times the pre-issue-14 host path (``backends.postprocess_reference``):
        torch normalisation on the host, argmax + repeated confidence, one
        ``connectedComponentsWithStats`` per thing class, lookup + resize of both maps always,
        and a conversion that copies the maps into the messages (once: the code before this
        issue copied twice, the second time in rclpy's ``data`` setter); ``after`` resizes
        into ``MessageBufferPool`` buffers, as the node does, which the messages take
        without a copy. The publish stage is the same code for both.

    """
    header = ns_to_header(1_000_000_000, 'camera')
    msg_rgb8 = make_camera_msg(rgb, header, 'rgb8')
    msg_bgr8 = make_camera_msg(rgb, header, 'bgr8')
    min_area = backend._options.min_instance_area_px
    pipeline = build_pipeline(settings_from_values(default_values()), backend,
                              allocate_labels=MessageBufferPool())  # as the node does
    batch = backend.resize([rgb]).copy()
    labels, confidence = backend.engine.run(batch)
    panoptic = backend.panoptic(labels[0], confidence[0], rgb.shape[:2])
    frame = Frame(image=rgb, stamp_ns=1, frame_id='camera', camera='/camera')
    result = pipeline.process(frame)
    device = backend.device
    inv_std = (1.0 / _IMAGENET_STD).astype(np.float32)
    graph = backend.build_graph().to(device, memory_format=torch.channels_last)
    old_tracker = Tracker()
    with torch.inference_mode():
        normalised = reference.preprocess([rgb], backend.input_size, _IMAGENET_MEAN, inv_std,
                                          device)
        network_input = normalised.contiguous(memory_format=torch.channels_last)
        head_logits = graph.network(network_input)  # what the graph's head gets
        graph.network.upsample_logits = True  # the old path: logits at the input size
        logits = graph.network(network_input)
    old_labels, old_confidence = reference.labels_from_logits(
        logits, label_sets.cityscapes_train_id_table()[:logits.shape[1]].copy())
    old_panoptic = reference.panoptic_from_semantic(old_labels[0], rgb.shape[:2], min_area,
                                                    old_confidence[0])
    values = np.arange(len(old_panoptic.segments) + 1, dtype=np.uint16)
    plain_maps = (np.array(result.semantic), np.array(result.instances))  # copied on conversion

    def label_head():
        with torch.inference_mode():
            graph.head(head_logits)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    shared = {
        'conversion_in_rgb8': lambda: image_msg_to_rgb(msg_rgb8),
        'conversion_in_bgr8': lambda: image_msg_to_rgb(msg_bgr8),
        'overlay': lambda: array_to_image_msg(
            render_overlay(rgb, result.semantic, result.instances, 0.5,
                           object_labels(result.objects)), header, 'rgb8'),
    }
    after = {
        'preprocess': lambda: backend.resize([rgb]),
        'network': lambda: backend.engine.run(batch),
        'label_head_in_graph': label_head,
        'instances': lambda: backend.panoptic(labels[0], confidence[0], rgb.shape[:2]),
        'track_and_resize': lambda: pipeline._track_and_resize(frame, panoptic),
        'conversion_out': lambda: (array_to_image_msg(result.semantic, header, 'mono8'),
                                   array_to_image_msg(result.instances, header, 'mono16')),
    }
    before = {
        'preprocess': lambda: (
            reference.preprocess([rgb], backend.input_size, _IMAGENET_MEAN, inv_std, device),
            device.type == 'cuda' and torch.cuda.synchronize(device)),
        'labelling': lambda: reference.labels_from_logits(
            logits, label_sets.cityscapes_train_id_table()[:logits.shape[1]].copy()),
        'instances': lambda: reference.panoptic_from_semantic(
            old_labels[0], rgb.shape[:2], min_area, old_confidence[0]),
        'track_and_resize': lambda: (
            old_tracker.update(old_panoptic.segments, 1),
            reference.instances_at_input_size(old_panoptic, values, *rgb.shape[:2])),
        'conversion_out': lambda: (array_to_image_msg(plain_maps[0], header, 'mono8'),
                                   array_to_image_msg(plain_maps[1], header, 'mono16')),
    }
    return in_worker_thread(lambda: _time_stages(shared, before, after, result, header,
                                                 repeats))


def _time_stages(shared, before, after, result, header, repeats: int) -> Dict[str, Dict]:
    timings = {}
    for clock, suffix in ((time.perf_counter, ''), (time.process_time, '_cpu')):
        common = {name: _settled_median_ms(function, repeats, clock)
                  for name, function in shared.items()}
        time.sleep(_SETTLE_S)
        common['publish'] = _publish_ms(result, header, repeats, clock)
        for label, stages in (('before', before), ('after', after)):
            row = timings[label + suffix] = dict(common)
            row.update({name: _settled_median_ms(f, repeats, clock) for name, f in stages.items()})
            row['outside_network'] = sum(v for k, v in row.items() if k not in _NOT_OWN_WORK)
    return timings


#: Publishes before the publish stage is timed (more than the history depths: 10 and the
#: node's ``output_qos_depth``).
_PUBLISH_WARMUP = 30

#: Longest wait for the publish stage's subscribers to match, seconds.
_MATCH_TIMEOUT_S = 10.0

#: Pause before timing a stage: the worker threads of the stage before (OpenMP's, OpenVINO's)
#: spin for a while after their work and would take the second core from the stage timed next
#: (measured: instances 3.95 ms wall / 7.98 ms CPU right after an OpenVINO forward).
_SETTLE_S = 0.3


def _settled_median_ms(function: Callable[[], object], repeats: int,
                       clock: Callable[[], float]) -> float:
    time.sleep(_SETTLE_S)
    return median_ms(function, repeats, clock)


def _publish_ms(result, header, repeats: int,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """Median time to publish semantic + instances with one subscriber attached."""
    owns_context = not rclpy.ok()
    if owns_context:
        rclpy.init()
    settings = settings_from_values(default_values())
    node = Node('seg_perception_bench')
    try:
        publishers: List = [node.create_publisher(Image, f'/bench/{n}', output_qos(settings))
                            for n in ('semantic', 'instances')]
        # Kept referenced so a matched reader exists while publishing.
        subscribers = [node.create_subscription(Image, f'/bench/{n}', lambda _: None, 10)
                       for n in ('semantic', 'instances')]
        semantic = array_to_image_msg(result.semantic, header, 'mono8')
        instances = array_to_image_msg(result.instances, header, 'mono16')
        # Time it once the readers are matched and discovery has settled: before, a publish
        # costs what it costs without a subscriber, and discovery's threads take the second
        # core (measured: 720p publish 2.3-3.4 ms wall for 0.4-0.5 ms CPU right after start).
        deadline = time.monotonic() + _MATCH_TIMEOUT_S
        while any(p.get_subscription_count() < 1 for p in publishers):
            if time.monotonic() > deadline:
                raise RuntimeError('bench: the publish stage found no matched subscriber')
            time.sleep(0.05)
        time.sleep(_SETTLE_S)

        def publish():
            publishers[0].publish(semantic)
            publishers[1].publish(instances)
        # Fast DDS grows its payload pools over the first publishes (up to the readers' and
        # writer's history depths): measured on one publisher, 720p 1.21 ms on the first 20
        # publishes, 0.38 ms on the next 20. A node publishing every frame is past that.
        for _ in range(_PUBLISH_WARMUP):
            publish()
        timing = median_ms(publish, repeats, clock)
        del subscribers
        return timing
    finally:
        node.destroy_node()
        if owns_context:
            rclpy.shutdown()


def configuration_overhead(settings, rgb: np.ndarray, repeats: int = 5) -> Dict[str, object]:
    """Median ms per frame of a whole configuration (its networks, the rest) at ``rgb``'s size.

    Builds the configuration's segmenter and pipeline (with the node's ``MessageBufferPool``),
    then per repeat processes ``rgb`` as a new frame of one camera and builds every message
    the node publishes for it but the overlay (``frame_io.result_messages``), timing each
    network call found in the backend tree (engines' ``run``, ONNX Runtime sessions' ``run``)
    apart. Publishing ``semantic`` + ``instances`` is timed as in ``node_overhead``.

    Args:
        settings: the node's settings (e.g. of ``config/default.yaml``).
        rgb: (H, W, 3) uint8 frame.
        repeats: timed frames (after one warm-up frame).

    Returns:
        ``total_ms`` (process + messages), ``network_ms`` (sum of the network calls),
        ``publish_ms``, ``outside_network_ms`` (total - network + publish), ``network_calls``
        per frame, ``objects`` tracked in the last frame, and ``stages_ms``: the work outside
        the networks by stage (``segmentation`` and ``detection``: those stages less their
        networks; ``fusion``, ``track_and_resize``, ``lanes``, ``messages``, ``publish``);
        medians over the repeats.

    """
    from seg_perception.build import build_segmenter
    from seg_perception.ros.frame_io import result_messages
    segmenter = build_segmenter(settings)
    pipeline = build_pipeline(settings, segmenter, allocate_labels=MessageBufferPool())
    network_s: List[Tuple[str, float]] = []
    _time_network_calls(segmenter, network_s)

    def one_frame(index: int) -> Tuple[object, object, Dict[str, float]]:
        stamp_ns = 1_000_000_000 + index * 100_000_000
        header = ns_to_header(stamp_ns, 'camera')
        start = time.perf_counter()
        result = pipeline.process(Frame(image=rgb, stamp_ns=stamp_ns, frame_id='camera',
                                        camera='/camera'))
        processed = time.perf_counter()
        result_messages(result, header, '/camera', None, True)
        end = time.perf_counter()
        networks = {role: 1e3 * sum(s for r, s in network_s if r == role)
                    for role in ('segmentation', 'detection')}
        parts = getattr(segmenter, 'last_timings_ms', None) or {}
        segment_ms = parts.get('semantic', result.timings_ms['segment'])
        row = {'total': 1e3 * (end - start), 'network': sum(networks.values()),
               'calls': float(len(network_s)),
               'segmentation': segment_ms - networks['segmentation'],
               'detection': parts.get('detect', 0.0) - networks['detection'],
               'fusion': parts.get('fuse', 0.0),
               'track_and_resize': result.timings_ms['track_and_resize'],
               'lanes': result.timings_ms['lanes'], 'messages': 1e3 * (end - processed)}
        return result, header, row

    def measure() -> Dict[str, object]:
        rows = []
        result = header = None
        for index in range(repeats + 1):
            time.sleep(_SETTLE_S)
            del network_s[:]
            result, header, row = one_frame(index)
            if index:  # the first frame warms up
                rows.append(row)
        publish = _publish_ms(result, header, repeats)

        def median(key: str) -> float:
            return float(np.median([row[key] for row in rows]))
        stages = {key: median(key) for key in ('segmentation', 'detection', 'fusion',
                                               'track_and_resize', 'lanes', 'messages')}
        stages['publish'] = publish
        return {'total_ms': median('total'), 'network_ms': median('network'),
                'publish_ms': publish,
                'outside_network_ms': float(np.median([r['total'] - r['network']
                                                       for r in rows])) + publish,
                'network_calls': median('calls'), 'objects': float(len(result.objects)),
                'stages_ms': stages}
    try:
        return in_worker_thread(measure)
    finally:
        segmenter.release()


def _time_network_calls(segmenter, seconds: List[Tuple[str, float]]) -> None:
    """Wrap the ``run`` of every engine and ONNX Runtime session under ``segmenter``.

    Each call appends ``(role, wall seconds)`` to ``seconds``: role ``'detection'`` for the
    detector's session, ``'segmentation'`` for the others. The tree is walked through the
    wrappers' ``primary``, ``secondary``, ``semantic`` and ``detector`` attributes.
    """
    stack, seen = [(segmenter, 'segmentation')], set()
    while stack:
        part, role = stack.pop()
        if part is None or id(part) in seen:
            continue
        seen.add(id(part))
        stack += [(getattr(part, name, None), 'detection' if name == 'detector' else role)
                  for name in ('primary', 'secondary', 'semantic', 'detector')]
        for name in ('engine', 'session'):
            runner = getattr(part, name, None)
            if runner is not None and callable(getattr(runner, 'run', None)):
                runner.run = _timed(runner.run, seconds, role)


def _timed(function: Callable, seconds: List[Tuple[str, float]], role: str) -> Callable:
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds.append((role, time.perf_counter() - start))
    return timed


#: (name, width, height) of the resolutions the conversion rows are measured at.
RESOLUTIONS = (('720p', 1280, 720), ('1080p', 1920, 1080))


def conversion_rows(repeats: int = 20) -> List[Dict[str, float]]:
    """Median milliseconds of image conversion in and out beside a plain numpy copy.

    For each resolution: ``in_rgb8`` / ``in_bgr8`` (Image -> RGB array), ``out_mono8`` /
    ``out_mono16`` / ``out_rgb8`` (array -> Image, the payload copied into the message), and
    ``numpy_copy_rgb8`` / ``numpy_copy_mono8``: ``ndarray.copy()`` of the same number of bytes,
    the memory-bandwidth floor a conversion that copies cannot beat.

    Returns:
        one dict per resolution: ``name``, ``width``, ``height`` and the timings.

    """
    rows = []
    for name, width, height in RESOLUTIONS:
        rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        mono8 = rgb[:, :, 0].copy()
        mono16 = mono8.astype(np.uint16) * 257
        header = ns_to_header(1_000_000_000, 'camera')
        msg_rgb8 = make_camera_msg(rgb, header, 'rgb8')
        msg_bgr8 = make_camera_msg(rgb, header, 'bgr8')
        rows.append({
            'name': name, 'width': width, 'height': height,
            'in_rgb8': median_ms(lambda: image_msg_to_rgb(msg_rgb8), repeats),
            'in_bgr8': median_ms(lambda: image_msg_to_rgb(msg_bgr8), repeats),
            'out_mono8': median_ms(lambda: array_to_image_msg(mono8, header, 'mono8'), repeats),
            'out_mono16': median_ms(lambda: array_to_image_msg(mono16, header, 'mono16'),
                                    repeats),
            'out_rgb8': median_ms(lambda: array_to_image_msg(rgb, header, 'rgb8'), repeats),
            'numpy_copy_rgb8': median_ms(rgb.copy, repeats),
            'numpy_copy_mono8': median_ms(mono8.copy, repeats),
        })
    return rows


def end_to_end_over_rclpy(backend, rgb: np.ndarray, frames: int = 5) -> Dict[str, float]:
    """Latency from publishing an rgb8 image to receiving its ``semantic``, over Fast DDS.

    The node (``SegmentationNode`` with ``backend``) and a driver node run in this process,
    each on its own executor thread; frames are sent in lock-step (the next after the previous
    frame's outputs arrived), so no frame is dropped and each latency is one frame's alone.

    Returns:
        ``frames``, ``median_ms``, ``p90_ms``, ``max_ms`` and the input ``width`` / ``height``.

    """
    from seg_perception.ros.driver import NodeDriver, spin_in_background, stop_spinning
    from seg_perception.ros.node import SegmentationNode
    from rclpy.parameter import Parameter

    owns_context = not rclpy.ok()
    if owns_context:
        rclpy.init()
    topic = '/bench/camera/image_raw'
    node = SegmentationNode(
        segmenter_factory=lambda settings: backend,
        parameter_overrides=[Parameter('image_topics', value=[topic]),
                             Parameter('qos_reliability', value='reliable'),
                             Parameter('autostart', value=False)])
    driver = NodeDriver(topic, outputs=('semantic',), node_name='seg_perception_bench_driver')
    handles = []
    try:
        if not node.autostart():
            raise RuntimeError(f'the node did not start: {node.last_error}')
        handles = [spin_in_background(node), spin_in_background(driver)]
        if not driver.wait_until_connected(30.0):
            raise RuntimeError('the driver did not connect to the node')
        latencies = []
        for index in range(frames + 1):  # the first frame warms up
            stamp_ns = 1_000_000_000 * (index + 1)
            outputs = driver.send_lockstep(make_camera_msg(rgb, ns_to_header(stamp_ns, 'cam')),
                                           timeout_s=120.0)
            if outputs is None:
                raise RuntimeError(f'no semantic output for frame {index}')
            if index:
                latencies.append(1000.0 * (outputs.received_s['semantic'] - outputs.sent_s))
            driver.forget(stamp_ns)
        return {'frames': float(frames), 'width': float(rgb.shape[1]),
                'height': float(rgb.shape[0]), 'median_ms': float(np.median(latencies)),
                'p90_ms': float(np.percentile(latencies, 90)), 'max_ms': float(max(latencies))}
    finally:
        for handle in handles:
            stop_spinning(handle)
        node.shutdown_work()
        node.destroy_node()
        driver.destroy_node()
        if owns_context:
            rclpy.shutdown()
