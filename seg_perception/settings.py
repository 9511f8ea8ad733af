"""The node's settings: every parameter's name, default and description, read into dataclasses.

One source for the node, ``process``, ``fleet`` and ``bench``: the ROS layer derives the declared
parameters and their descriptors from ``PARAMETERS``; a parameter file is read without a node
(``seg_perception.settings_file``). Where a component owns a setting, its dataclass owns the
default (``TrackerConfig``, ``BackendOptions``, ``HealthLimits``) and the parameter takes it from
there.
"""

import dataclasses
from dataclasses import dataclass
import math
from typing import Any, Dict, List, Mapping, Tuple

from seg_perception.backends.base import (BackendError, BackendOptions, DetectorOptions,
                                          parse_extra)
from seg_perception.stream_stats import HealthLimits
from seg_perception.topics import camera_namespace
from seg_perception.tracking import TrackerConfig
from seg_perception.weights import split_weights_dirs

_TRACKER = TrackerConfig()
_BACKEND = BackendOptions()
_DETECTOR = DetectorOptions()
_HEALTH = HealthLimits()


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter: name, default, description, optional numeric range."""

    name: str
    default: Any
    description: str
    minimum: float = None
    maximum: float = None
    step: float = 0
    read_only: bool = True


PARAMETERS: Tuple[ParameterSpec, ...] = (
    ParameterSpec('autostart', True,
                  'Configure and activate at start (false: wait for a lifecycle manager).'),
    ParameterSpec('image_topics', ['/camera/image_raw'],
                  'Camera topics; a name ending in /compressed is sensor_msgs/CompressedImage, '
                  'anything else sensor_msgs/Image.'),
    ParameterSpec('backend', 'espnetv2+twinlitenet',
                  'Segmentation backend name (the default adds lane lines to ESPNetv2).'),
    ParameterSpec('backend_extra', '',
                  "Backend-specific settings, 'key=value' entries separated by ';' "
                  "(e.g. 'model=facebook/mask2former-swin-large-cityscapes-panoptic')."),
    ParameterSpec('weights_path', _BACKEND.weights_path,
                  'Checkpoint file; empty = search weights_dir, then the cache'
                  ' ($SEG_PERCEPTION_WEIGHTS_DIR or ~/.cache/seg_perception/weights).'),
    ParameterSpec('weights_dir', '', 'Directories searched for the checkpoints before the cache, '
                  "separated by ':'."),
    ParameterSpec('allow_download', _BACKEND.allow_download,
                  'Download a missing checkpoint from its authors into the cache.'),
    ParameterSpec('device', _BACKEND.device, 'Inference device: auto, cpu, cuda or cuda:N.'),
    ParameterSpec('half_precision', _BACKEND.half, 'Run the network in float16 on CUDA.'),
    ParameterSpec('engine', _BACKEND.engine,
                  'Inference engine of espnetv2 / twinlitenet: auto (the fastest installed '
                  'that keeps the labels: OpenVINO on the CPU; converts the network once per '
                  'input size, about 15 s, cached), torch, onnxruntime or openvino.'),
    ParameterSpec('model_scale', _BACKEND.model_scale,
                  'Width multiplier of the network (ESPNetv2: 1.0 or 2.0).', 0.5, 2.0),
    ParameterSpec('input_width', 1024, 'Network input width, pixels (multiple of 16).',
                  16, 4096, 16),
    ParameterSpec('input_height', 512, 'Network input height, pixels (multiple of 16).',
                  16, 4096, 16),
    ParameterSpec('min_instance_area_px', _BACKEND.min_instance_area_px,
                  'Thing regions smaller than this many input pixels get no instance.',
                  0.0, 1e7),
    # --- object detector fused with the segmentation (backends/detected_instances.py) ---
    # The node's default fuses YOLOX-Nano (DetectorOptions itself defaults to no detector).
    ParameterSpec('detector', 'yolox',
                  "Object detector whose boxes split things into instances: 'yolox' (ONNX "
                  "Runtime), or '' for none (instances = connected components of the backend)."),
    ParameterSpec('detector_weights', _DETECTOR.weights_path,
                  'Detector ONNX file; empty = yolox_nano.onnx in weights_dir (or its '
                  'yolox_nano/ folder), then the cache.'),
    ParameterSpec('detector_score_threshold', _DETECTOR.score_threshold,
                  'Detections scoring below this are ignored.', 0.0, 1.0),
    ParameterSpec('detector_tile_rows', 2,
                  'Rows of extra overlapping detector tiles for small objects (columns follow '
                  'the image aspect); 0 = one full-frame pass.', 0, 8, 1),
    ParameterSpec('detector_tile_overlap', _DETECTOR.tile_overlap,
                  "Fraction of a detector tile's side shared with its neighbour.", 0.0, 0.9),
    ParameterSpec('max_batch_frames', 0,
                  'Most camera frames per forward pass, least recently served camera first; '
                  '0 = every waiting camera on CUDA; on the CPU as many as the engine runs side '
                  'by side (OpenVINO: one stream per camera up to its threads), else one.',
                  0, 64, 1),
    ParameterSpec('qos_reliability', 'best_effort',
                  'Reliability of the image subscriptions: best_effort or reliable.'),
    ParameterSpec('qos_depth', 1, 'History depth of the image subscriptions.', 1, 100, 1),
    ParameterSpec('output_qos_depth', 2, 'History depth of the output publishers.', 1, 100, 1),
    ParameterSpec('overlay_alpha', 0.5, 'Weight of the class colours in the overlay.', 0.0, 1.0,
                  read_only=False),
    ParameterSpec('track_high_score', _TRACKER.high_score,
                  'Instances scoring at least this are matched first and may start tracks.',
                  0.0, 1.0),
    ParameterSpec('track_low_score', _TRACKER.low_score,
                  'Instances below this are ignored; between the two they only extend tracks.',
                  0.0, 1.0),
    ParameterSpec('track_new_track_score', _TRACKER.new_track_score,
                  'An unmatched instance starts a track only at or above this score.', 0.0, 1.0),
    ParameterSpec('track_confirm_hits', _TRACKER.confirm_hits,
                  'Matched frames needed before a track gets an id in the outputs.', 1, 100, 1),
    ParameterSpec('track_confirm_score', _TRACKER.confirm_score,
                  'An instance at or above this score gets an id in its first frame (>1: never).',
                  0.0, 2.0),
    ParameterSpec('track_max_lost_s', _TRACKER.max_lost_s,
                  'Seconds a track survives without a match before its id is retired.',
                  0.0, 3600.0),
    ParameterSpec('track_class_aware', _TRACKER.class_aware,
                  'Tracks only match instances of their own class.'),
    ParameterSpec('base_frame', 'base_link',
                  'Vehicle frame of objects_3d and of the camera and LiDAR poses.'),
    ParameterSpec('lifting_methods', ['ground_plane'],
                  'Per camera (or one for all): ground_plane, depth, lidar, or none (no '
                  'objects_3d). Lifting starts when the camera_info topic has a CameraInfo.'),
    ParameterSpec('camera_poses', [0.0, 0.0, 1.65, 0.0, 0.0, 0.0],
                  'x, y, z (m), roll, pitch, yaw (rad; pitch > 0 looks down) of each camera in '
                  'base_frame: 6 values per camera in image_topics order, or 6 for all.'),
    ParameterSpec('depth_topics', [''],
                  'Per camera: aligned depth image topic (16UC1 mm or 32FC1 m) for lifting '
                  "method depth; '' = none."),
    ParameterSpec('lidar_topic', '', 'sensor_msgs/PointCloud2 topic for lifting method lidar.'),
    ParameterSpec('lidar_pose', [0.0, 0.0, 1.8, 0.0, 0.0, 0.0],
                  'x, y, z (m), roll, pitch, yaw (rad) of the LiDAR in base_frame.'),
    ParameterSpec('diagnostics_period_s', 1.0, 'Seconds between two /diagnostics messages.',
                  0.1, 60.0),
    ParameterSpec('diagnostics_silent_warn_s', _HEALTH.silent_warn_s,
                  'A camera silent this long is reported WARN, seconds.', 0.1, 3600.0),
    ParameterSpec('diagnostics_silent_error_s', _HEALTH.silent_error_s,
                  'A camera silent this long is reported ERROR, seconds.', 0.1, 3600.0),
    ParameterSpec('diagnostics_latency_budget_ms', _HEALTH.latency_budget_ms,
                  'p90 receive-to-publish latency above this is reported WARN (0 = no budget).',
                  0.0, 1e6),
)


@dataclass(frozen=True)
class CameraLifting:
    """3D lifting settings of one camera (see the ``lifting_methods`` parameter and the rest).

    Attributes:
        method: ``ground_plane``, ``depth``, ``lidar`` or ``none``.
        pose: x, y, z (m), roll, pitch, yaw (rad) of the camera body in ``base_frame``.
        depth_topic: aligned depth image topic; '' = none.

    """

    method: str = 'ground_plane'
    pose: Tuple[float, ...] = (0.0, 0.0, 1.65, 0.0, 0.0, 0.0)
    depth_topic: str = ''


LIFTING_METHODS = ('ground_plane', 'depth', 'lidar', 'none')


def _per_camera(name: str, values: List, count: int, group: int = 1) -> List:
    """Split a parameter holding one entry (of ``group`` values) for all cameras or one each."""
    values = list(values)
    if len(values) == group:
        return [values] * count if group > 1 else values * count
    if len(values) != group * count:
        raise ValueError(
            f'parameter {name} must hold {group} value(s) for all cameras or {group} per camera '
            f'({group * count} for {count}), got {len(values)}')
    return [values[i * group:(i + 1) * group] for i in range(count)] if group > 1 else values


def read_lifting(value, count: int) -> Tuple[CameraLifting, ...]:
    """Read the lifting parameters of ``count`` cameras.

    Raises:
        ValueError: an unknown method, a wrong number of values, a non-finite pose, or method
            ``depth`` without a depth topic / ``lidar`` without ``lidar_topic``.

    """
    methods = _per_camera('lifting_methods', value('lifting_methods'), count)
    poses = _per_camera('camera_poses', value('camera_poses'), count, 6)
    depth_topics = _per_camera('depth_topics', value('depth_topics'), count)
    cameras = []
    for method, pose, depth_topic in zip(methods, poses, depth_topics):
        if method not in LIFTING_METHODS:
            raise ValueError(f'parameter lifting_methods: {method!r} is not one of '
                             f'{", ".join(LIFTING_METHODS)}')
        if not all(math.isfinite(v) for v in pose):
            raise ValueError(f'parameter camera_poses holds a non-finite value: {pose}')
        if method == 'depth' and not depth_topic.strip():
            raise ValueError('lifting method depth needs a topic in parameter depth_topics')
        if method == 'lidar' and not value('lidar_topic').strip():
            raise ValueError('lifting method lidar needs parameter lidar_topic')
        if method == 'lidar' and (len(value('lidar_pose')) != 6 or not all(
                math.isfinite(v) for v in value('lidar_pose'))):
            raise ValueError('parameter lidar_pose must hold 6 finite values')
        cameras.append(CameraLifting(method=method, pose=tuple(float(v) for v in pose),
                                     depth_topic=depth_topic.strip()))
    return tuple(cameras)


@dataclass(frozen=True)
class NodeSettings:
    """The parameters' values, read once at start."""

    image_topics: Tuple[str, ...]
    backend: str
    backend_options: BackendOptions
    qos_reliability: str
    qos_depth: int
    output_qos_depth: int
    overlay_alpha: float
    tracker: TrackerConfig = TrackerConfig()
    health: HealthLimits = HealthLimits()
    diagnostics_period_s: float = 1.0
    base_frame: str = 'base_link'
    lifting: Tuple[CameraLifting, ...] = ()
    lidar_topic: str = ''
    max_batch_frames: int = 0
    lidar_pose: Tuple[float, ...] = (0.0, 0.0, 1.8, 0.0, 0.0, 0.0)


def with_node_batches(settings: NodeSettings) -> NodeSettings:
    """Return ``settings`` with the backend asked to run the node's batches side by side.

    The node batches up to ``max_batch_frames`` frames (0: one per camera), so its backend may
    run that many side by side (``BackendOptions.parallel_frames``). The tools that feed the
    pipeline one frame at a time (``process``, ``fleet``, the evaluations) keep 1: a lone
    frame runs fastest with every core on it.
    """
    frames = settings.max_batch_frames or len(settings.image_topics)
    return dataclasses.replace(settings, backend_options=dataclasses.replace(
        settings.backend_options, parallel_frames=max(1, frames)))


def default_values() -> Dict[str, Any]:
    """Return parameter name -> default value of every parameter (lists copied)."""
    return {spec.name: list(spec.default) if isinstance(spec.default, list) else spec.default
            for spec in PARAMETERS}


def settings_from_values(values: Mapping[str, Any]) -> NodeSettings:
    """Check parameter values and return them as a ``NodeSettings``.

    Args:
        values: parameter name -> value for every parameter of ``PARAMETERS`` (``default_values``
            updated with a parameter file's, or a node's declared parameters).

    Raises:
        ValueError: a value outside what the node accepts (message names the parameter).

    """
    def value(name: str) -> Any:
        return values[name]

    topics: List[str] = [t for t in value('image_topics') if t.strip()]
    if not topics:
        raise ValueError('parameter image_topics is empty: name at least one camera topic')
    if len(set(topics)) != len(topics):
        raise ValueError(f'parameter image_topics names a topic twice: {topics}')
    namespaces = [camera_namespace(t) for t in topics]
    if len(set(namespaces)) != len(namespaces):
        raise ValueError(
            f'parameter image_topics: {topics} map to camera namespaces {namespaces}; two '
            'cameras would publish on the same output topics')
    reliability = value('qos_reliability')
    if reliability not in ('best_effort', 'reliable'):
        raise ValueError(
            f'parameter qos_reliability must be best_effort or reliable, got {reliability!r}')
    if not value('base_frame').strip():
        raise ValueError('parameter base_frame is empty: name the vehicle frame, e.g. base_link')
    options = BackendOptions(
        weights_path=value('weights_path'),
        weights_dirs=split_weights_dirs(value('weights_dir')),
        allow_download=value('allow_download'),
        device=value('device'),
        half=value('half_precision'),
        input_width=value('input_width'),
        input_height=value('input_height'),
        model_scale=float(value('model_scale')),
        min_instance_area_px=float(value('min_instance_area_px')),
        extra=_backend_extra(value('backend_extra')),
        detector=_detector_options(value),
        engine=value('engine'),
    )
    tracker = TrackerConfig(
        high_score=float(value('track_high_score')),
        low_score=float(value('track_low_score')),
        new_track_score=float(value('track_new_track_score')),
        confirm_hits=value('track_confirm_hits'),
        confirm_score=float(value('track_confirm_score')),
        max_lost_s=float(value('track_max_lost_s')),
        class_aware=value('track_class_aware'),
    )
    return NodeSettings(
        image_topics=tuple(topics),
        backend=value('backend'),
        backend_options=options,
        qos_reliability=reliability,
        qos_depth=value('qos_depth'),
        output_qos_depth=value('output_qos_depth'),
        overlay_alpha=float(value('overlay_alpha')),
        tracker=tracker,
        health=HealthLimits(
            silent_warn_s=float(value('diagnostics_silent_warn_s')),
            silent_error_s=float(value('diagnostics_silent_error_s')),
            latency_budget_ms=float(value('diagnostics_latency_budget_ms'))),
        diagnostics_period_s=float(value('diagnostics_period_s')),
        base_frame=value('base_frame'),
        lifting=read_lifting(value, len(topics)),
        lidar_topic=value('lidar_topic').strip(),
        max_batch_frames=value('max_batch_frames'),
        lidar_pose=tuple(float(v) for v in value('lidar_pose')),
    )


def _detector_options(value) -> DetectorOptions:
    name = value('detector').strip()
    if name not in ('', 'yolox'):
        raise ValueError(f"parameter detector must be 'yolox' or '' (none), got {name!r}")
    return DetectorOptions(
        name=name, weights_path=value('detector_weights').strip(),
        score_threshold=float(value('detector_score_threshold')),
        tile_rows=value('detector_tile_rows'),
        tile_overlap=float(value('detector_tile_overlap')))


def _backend_extra(text: str) -> dict:
    try:
        return parse_extra(text)
    except BackendError as error:
        raise ValueError(f'parameter backend_extra: {error}') from None
