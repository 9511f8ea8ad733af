"""Inference engines that run a ``SegmentationGraph``: torch, ONNX Runtime, OpenVINO.

Every engine takes a (N, H, W, 3) uint8 RGB batch (already resized to the network's input size)
and returns the graph's outputs as numpy arrays (labels uint8, and a float32 confidence map where
the graph has one): one host copy of small maps per batch.

``engine = 'auto'`` picks, among the engines installed, the fastest one measured to keep the
labels (mIoU within 0.005 of torch on the CamVid and Cityscapes samples; see
``seg-perception bench --sections engines`` and the README): on the CPU OpenVINO (bfloat16 where
the CPU has bfloat16 units, else f32), then ONNX Runtime, then torch; on CUDA ONNX Runtime with
the TensorRT or CUDA execution provider when ``onnxruntime-gpu`` is installed, else torch.
"""

import abc
import logging
import os
from pathlib import Path
from typing import Callable, Optional, Tuple

import numpy as np
import torch

from seg_perception.backends.base import BackendError

_LOG = logging.getLogger(__name__)

#: Engines by name; ``'auto'`` picks one of them.
ENGINES = ('torch', 'onnxruntime', 'openvino')
ENGINE_CHOICES = ('auto',) + ENGINES
#: Extra option (``BackendOptions.extra``): OpenVINO inference precision, ``auto`` (default:
#: ``bf16`` where the CPU has bfloat16 units, else ``f32``), ``f32`` or ``bf16``.
OPENVINO_PRECISION_KEY = 'openvino_precision'

_INSTALL = {
    'onnxruntime': 'pip install onnxruntime==1.32.0 onnx==1.23.2 onnxscript==0.7.2 '
                   '(on a CUDA machine: onnxruntime-gpu instead of onnxruntime)',
    'openvino': 'pip install openvino==2026.4.1 onnx==1.23.2 onnxscript==0.7.2',
}


def engine_module_available(name: str) -> bool:
    """Whether the Python package of engine ``name`` imports (torch always does)."""
    if name == 'torch':
        return True
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def resolve_engine(requested: str, device: torch.device) -> str:
    """Return the engine to use for ``requested`` (one of ``ENGINE_CHOICES``) on ``device``.

    Raises:
        BackendError: an unknown name, or a named engine whose package is missing (the message
            names the install command), or OpenVINO asked for on CUDA.

    """
    requested = _normalised(requested)
    if requested not in ENGINE_CHOICES:
        raise BackendError(f'engine must be one of {", ".join(ENGINE_CHOICES)}, '
                           f'got {requested!r}')
    if requested == 'auto':
        if device.type == 'cpu' and engine_module_available('openvino'):
            return 'openvino'
        if engine_module_available('onnxruntime') and (
                device.type == 'cpu' or _ort_gpu_providers()):
            return 'onnxruntime'
        return 'torch'
    if not engine_module_available(requested):
        raise BackendError(f'engine {requested!r} is not installed; install with: '
                           f'{_INSTALL[requested]}')
    if requested == 'openvino' and device.type != 'cpu':
        raise BackendError("engine 'openvino' runs on the CPU here; use device cpu, or engine "
                           'onnxruntime / torch on CUDA')
    return requested


def _normalised(requested: str) -> str:
    """Return an engine request as ``resolve_engine`` reads it (empty: ``'auto'``; any case)."""
    return (requested or 'auto').strip().lower()


def _ort_gpu_providers() -> Tuple[str, ...]:
    try:
        import onnxruntime
    except ImportError:
        return ()
    wanted = ('TensorrtExecutionProvider', 'CUDAExecutionProvider')
    return tuple(p for p in wanted if p in onnxruntime.get_available_providers())


class Engine(abc.ABC):
    """Runs one graph on (N, H, W, 3) uint8 batches."""

    #: Engine name, one of ``ENGINES``.
    name = ''
    #: Frames of a batch the engine runs side by side (each on its share of the cores); 1 =
    #: one call for the whole batch. Callers on the CPU batch up to this many frames.
    parallel_frames = 1

    @abc.abstractmethod
    def run(self, batch: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Return the graph's outputs for ``batch`` as numpy arrays (see the module docstring)."""

    @property
    def description(self) -> str:
        """Engine, device and precision, for logs and the bench."""
        return self.name


class TorchEngine(Engine):
    """Runs the graph in torch on its device (float16 when ``half`` on CUDA)."""

    name = 'torch'

    def __init__(self, graph: torch.nn.Module, device: torch.device, half: bool = False):
        self.device = device
        self.half = bool(half and device.type == 'cuda')
        # channels_last: measured 1.2 s instead of 3.0 s per 1024x512 ESPNetv2 forward pass on a
        # 2-core CPU (oneDNN's grouped and depthwise convolutions prefer NHWC).
        graph = graph.to(device, memory_format=torch.channels_last).eval()
        if self.half:
            graph.network.half()
        self.graph = graph

    @property
    def description(self) -> str:
        """E.g. ``torch cuda:0 fp16``."""
        return f'torch {self.device} {"fp16" if self.half else "fp32"}'

    @torch.inference_mode()
    def run(self, batch: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Upload the uint8 batch, run the graph, copy the uint8 / float32 maps back."""
        images = torch.from_numpy(batch).to(self.device, non_blocking=True)
        outputs = self.graph(images)
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return tuple(o.cpu().numpy() for o in outputs)


class OnnxRuntimeEngine(Engine):
    """Runs an exported graph with ONNX Runtime: CPU EP, or TensorRT / CUDA EPs on a GPU.

    Args:
        onnx_path: the exported graph.
        device: ``cpu`` or a CUDA device.
        half: on CUDA with TensorRT, build float16 engines.
        trt_cache_dir: where TensorRT keeps its built engines (built once per shape).

    """

    name = 'onnxruntime'

    def __init__(self, onnx_path: Path, device: torch.device, half: bool = False,
                 trt_cache_dir: Optional[Path] = None):
        import onnxruntime
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ['CPUExecutionProvider']
        if device.type == 'cuda':
            index = device.index or 0
            available = _ort_gpu_providers()
            if not available:
                raise BackendError(
                    'engine onnxruntime on CUDA needs onnxruntime-gpu (the CUDA / TensorRT '
                    'execution providers); install with: pip install onnxruntime-gpu==1.31.1 '
                    '(instead of onnxruntime), or use engine torch')
            gpu = []
            if 'TensorrtExecutionProvider' in available:
                trt = {'device_id': index, 'trt_fp16_enable': bool(half)}
                if trt_cache_dir is not None:
                    Path(trt_cache_dir).mkdir(parents=True, exist_ok=True)
                    trt.update(trt_engine_cache_enable=True,
                               trt_engine_cache_path=str(trt_cache_dir))
                gpu.append(('TensorrtExecutionProvider', trt))
            if 'CUDAExecutionProvider' in available:
                gpu.append(('CUDAExecutionProvider', {'device_id': index}))
            providers = gpu + providers
        self.session = onnxruntime.InferenceSession(str(onnx_path), options,
                                                    providers=providers)
        self._input = self.session.get_inputs()[0].name
        self.half = bool(half and device.type == 'cuda')

    @property
    def description(self) -> str:
        """E.g. ``onnxruntime CPUExecutionProvider``."""
        return f'onnxruntime {self.session.get_providers()[0]}{" fp16" if self.half else ""}'

    def run(self, batch: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Run the session on the uint8 batch."""
        return tuple(self.session.run(None, {self._input: batch}))


class OpenVinoEngine(Engine):
    """Runs an exported graph with OpenVINO on the CPU.

    Args:
        model_path: the graph as OpenVINO IR (``.xml``) or ONNX.
        precision: ``'f32'`` (labels as torch's), ``'bf16'`` (faster where the CPU has
            bfloat16 units: 1.4x over f32 for ESPNetv2 here, 99.25% of pixels as torch, mIoU
            within 0.002 on the CamVid and Cityscapes samples) or ``'auto'`` (bf16 where the
            CPU has bfloat16 units, else f32).
        threads: inference threads; 0 = OpenVINO's choice (every core). The node passes
            torch's thread count, so ``torch_threads`` and fleet workers bound both engines.
        parallel_frames: frames run side by side, at most one per thread. 1 (a latency-hinted
            model, every thread on one frame) gives the lowest latency per frame; more compile
            a throughput-hinted model with that many streams, which splits the threads between
            them, and run each frame of a batch in its own stream. Measured here for ESPNetv2
            s=2.0 at 1024x512, bf16, 2 threads: 4.4 frames/s one frame at a time, 4.9-5.4 with
            two streams (each frame then takes about twice as long), and 83 MB more memory.

    """

    name = 'openvino'

    def __init__(self, model_path: Path, precision: str = 'auto', threads: int = 0,
                 parallel_frames: int = 1):
        import openvino
        precision = (precision or 'auto').strip().lower()
        if precision not in ('auto', 'f32', 'bf16'):
            raise BackendError(f'{OPENVINO_PRECISION_KEY} must be auto, f32 or bf16, '
                               f'got {precision!r}')
        core = openvino.Core()
        if precision == 'auto':
            native = 'BF16' in core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
            precision = 'bf16' if native else 'f32'
        self.precision = precision
        self.parallel_frames = max(1, min(int(parallel_frames), threads or os.cpu_count() or 1))
        config = {'INFERENCE_PRECISION_HINT': precision, 'PERFORMANCE_HINT': 'LATENCY'}
        if self.parallel_frames > 1:
            config.update(PERFORMANCE_HINT='THROUGHPUT', NUM_STREAMS=self.parallel_frames)
        if threads > 0:
            config['INFERENCE_NUM_THREADS'] = int(threads)
        try:
            self.compiled = core.compile_model(core.read_model(str(model_path)), 'CPU', config)
        except RuntimeError as error:  # e.g. a cached .xml whose .bin went missing
            raise BackendError(f'OpenVINO cannot load {model_path}: {error}') from error
        if self.parallel_frames == 1:
            self.request = self.compiled.create_infer_request()
            self._queue = None
        else:
            self.request = None
            self._queue = self._new_queue()

    @property
    def description(self) -> str:
        """E.g. ``openvino CPU f32``, or ``openvino CPU bf16, 2 streams``."""
        streams = f', {self.parallel_frames} streams' if self.parallel_frames > 1 else ''
        return f'openvino CPU {self.precision}{streams}'

    def run(self, batch: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Run the batch; the outputs are copied out of OpenVINO's buffers.

        One synchronous inference for the whole batch, or with ``parallel_frames`` > 1 one
        request per frame in the streams, the outputs stacked in the batch's order.
        """
        if self._queue is None:
            self.request.infer({0: batch})
            return self._outputs_of(self.request)
        frames = [None] * batch.shape[0]
        try:
            for index in range(batch.shape[0]):
                # Each request's outputs go to this batch's list, whatever happens to others.
                self._queue.start_async({0: batch[index:index + 1]}, (frames, index))
            self._queue.wait_all()
        except RuntimeError:
            # After a failed request every later call of its queue raises the same error
            # (OpenVINO 2026.4, measured): let the others finish, then start a fresh queue, so
            # that a bad batch costs only itself.
            try:
                self._queue.wait_all()
            except RuntimeError:
                pass
            self._queue = self._new_queue()
            raise
        if any(outputs is None for outputs in frames):
            raise BackendError('OpenVINO returned no outputs for a frame of the batch')
        return tuple(np.concatenate(outputs) for outputs in zip(*frames))

    def _new_queue(self):
        import openvino
        queue = openvino.AsyncInferQueue(self.compiled, self.parallel_frames)
        queue.set_callback(self._keep_outputs)
        return queue

    def _keep_outputs(self, request, destination: Tuple[list, int]) -> None:
        frames, index = destination
        frames[index] = self._outputs_of(request)

    def _outputs_of(self, request) -> Tuple[np.ndarray, ...]:
        return tuple(request.get_output_tensor(i).data.copy()
                     for i in range(len(self.compiled.outputs)))


def create_engine(name: str, device: torch.device, half: bool,
                  build_graph: Callable[[], torch.nn.Module],
                  export: Callable[[str], Path], openvino_precision: str = 'auto',
                  trt_cache_dir: Optional[Path] = None, parallel_frames: int = 1) -> Engine:
    """Build engine ``name`` (already resolved by ``resolve_engine``).

    Args:
        name: one of ``ENGINES``.
        device: the torch device (ONNX Runtime uses its index on CUDA).
        half: float16 on CUDA.
        build_graph: returns the float32 CPU graph (torch runs it; exports start from it).
        export: ``export(format)`` returns the path of the graph exported as ``'onnx'`` or
            ``'openvino'`` (exporting on first use; see ``graph_export.cached_export``).
        openvino_precision: see ``OpenVinoEngine``.
        trt_cache_dir: see ``OnnxRuntimeEngine``.
        parallel_frames: see ``OpenVinoEngine`` (the other engines run a batch in one call).

    """
    if name == 'torch':
        return TorchEngine(build_graph(), device, half)
    if name == 'onnxruntime':
        return OnnxRuntimeEngine(export('onnx'), device, half, trt_cache_dir)
    if name == 'openvino':
        return OpenVinoEngine(export('openvino'), openvino_precision, torch.get_num_threads(),
                              parallel_frames)
    raise BackendError(f'unknown engine {name!r}')


def create_requested_engine(requested: str, device: torch.device, half: bool,
                            build_graph: Callable[[], torch.nn.Module],
                            export: Callable[[str], Path], openvino_precision: str = 'auto',
                            trt_cache_dir: Optional[Path] = None,
                            parallel_frames: int = 1) -> Engine:
    """Resolve ``requested`` (see ``resolve_engine``) and build it with ``create_engine``.

    An engine that ``'auto'`` picked and that cannot be built (its export or compilation
    failed) gives way to torch with a logged warning, so the default never stops a node that
    torch could run; an engine named explicitly raises instead.

    Raises:
        BackendError: as ``resolve_engine`` and ``create_engine``.

    """
    name = resolve_engine(requested, device)
    try:
        return create_engine(name, device, half, build_graph, export, openvino_precision,
                             trt_cache_dir, parallel_frames)
    except BackendError as error:
        if _normalised(requested) != 'auto' or name == 'torch':
            raise
        _LOG.warning('engine auto: %s failed (%s); running torch instead', name, error)
        return create_engine('torch', device, half, build_graph, export)
