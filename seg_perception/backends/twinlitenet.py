"""TwinLiteNet trained on BDD100K (Che et al., MAPR 2023) as a segmentation backend.

Two binary heads: drivable area -> canonical ``road``, lane lines -> ``lane_marking`` (a lane pixel
wins over drivable area); every other pixel is unlabeled. No thing classes, so no instances. On
its own it labels only the road surface; its main use is as the secondary of a
``CompositeBackend`` that paints its lane lines over a Cityscapes model (``espnetv2+twinlitenet``).

Checkpoint: the authors' ``pretrained/best.pth`` (chequanghuy/TwinLiteNet, MIT). It is looked for
as ``best.pth`` in ``<dir>/twinlitenet/`` and ``<dir>/`` for each weights folder, then in
``<cache>/twinlitenet/``, then downloaded there.
Recipe (the authors' test_image.py): RGB, bilinear resize to 640x360, /255, no mean/std.

Speed: a third of the checkpoint's values are subnormal floats; they are zeroed at load (see
``twinlitenet_net.zero_subnormals_``), which leaves the outputs bit-identical on the BDD100K
sample frames. The issue reported 3.7 s -> 0.23 s for a 640x360 forward pass from this alone on
its CPU. On ours (2-core AMD EPYC, shared with other jobs, one thread) the convolutions took the
same time either way (0.64 vs 0.66 s); but zeroing makes every key weight of the position
attention zero, so its 3600x3600 softmax and matmul reduce to a mean (``PositionAttention``):
0.80-0.89 s per pass instead of 1.4-1.7 s (raw weights). Set the extra option
``twinlitenet_zero_subnormals: 'false'`` to keep the weights exactly as published.
"""

from pathlib import Path
import threading
from typing import Sequence, Tuple

import numpy as np
import torch

from seg_perception import taxonomy
from seg_perception.backends.base import (BackendOptions, BatchResizer, network_input_size,
                                          Segmenter)
from seg_perception.backends.engines import create_requested_engine, OPENVINO_PRECISION_KEY
from seg_perception.backends.graph import BinaryHeadsLabelHead, SegmentationGraph
from seg_perception.backends.graph_export import cached_export
from seg_perception.backends.torch_device import select_device
from seg_perception.backends.twinlitenet_net import (INPUT_DIVISOR, load_twinlitenet,
                                                     NATIVE_INPUT_SIZE)
from seg_perception.structures import PanopticResult
from seg_perception.weights import (default_cache_dir, resolve_weights, WeightsError, WeightsSpec,
                                    with_subfolder)

_TWINLITENET_COMMIT = '524141821c373c886443cf4254e3e87787c2c55e'

#: The authors' checkpoint (BDD100K drivable area + lane lines).
CHECKPOINT = WeightsSpec(
    'best.pth',
    '98ffc6c8abc98fda72052117249ce4e2dbc85e58cfcfc6ee2d42f5398c772463',
    f'https://github.com/chequanghuy/TwinLiteNet/raw/{_TWINLITENET_COMMIT}/pretrained/best.pth')
#: Sub-folder of weights folders and of the cache where the checkpoint lives.
WEIGHTS_SUBDIR = 'twinlitenet'
#: Extra option (``BackendOptions.extra``): set to ``'false'`` to keep subnormal weights.
ZERO_SUBNORMALS_KEY = 'twinlitenet_zero_subnormals'


class TwinLiteNetBackend(Segmenter):
    """BDD100K TwinLiteNet: drivable area as ``road``, lane lines as ``lane_marking``.

    Runs on the engine of ``BackendOptions.engine`` like ESPNetv2: the host resizes into a
    reused uint8 buffer; scaling, network and both heads' decisions run in one graph.
    """

    name = 'twinlitenet'

    def __init__(self, options: BackendOptions = BackendOptions()):
        self.input_size = network_input_size(self.name, options, NATIVE_INPUT_SIZE,
                                             INPUT_DIVISOR)
        self.device = select_device(options.device)
        self._half = bool(options.half and self.device.type == 'cuda')
        self.weights_path = resolve_weights(
            CHECKPOINT, options.weights_path, with_subfolder(options.weights_dirs, WEIGHTS_SUBDIR),
            cache_dir=default_cache_dir() / WEIGHTS_SUBDIR,
            allow_download=options.allow_download)
        self._zero_subnormals = \
            options.extra.get(ZERO_SUBNORMALS_KEY, 'true').strip().lower() != 'false'
        self._load()  # a bad checkpoint fails here, for any engine
        self._road = taxonomy.class_id('road')
        self._lane = taxonomy.class_id('lane_marking')
        self.engine = create_requested_engine(
            options.engine, self.device, self._half, self.build_graph, self.export,
            options.extra.get(OPENVINO_PRECISION_KEY, 'f32'),  # bf16 not validated on lanes
            trt_cache_dir=default_cache_dir() / 'tensorrt',
            parallel_frames=options.parallel_frames)
        self.parallel_frames = self.engine.parallel_frames
        self.engine_description = self.engine.description
        self.resize = BatchResizer(self.input_size)
        self._lock = threading.Lock()

    def _load(self) -> torch.nn.Module:
        try:
            return load_twinlitenet(self.weights_path, zero_subnormals=self._zero_subnormals)
        except Exception as error:  # torch raises several types for corrupt or foreign files
            raise WeightsError(
                f'checkpoint {self.weights_path} is not a TwinLiteNet(2, 3) state dict '
                f'(strict key match): {error}') from error

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical ids of ``road`` and ``lane_marking``."""
        return tuple(sorted((self._road, self._lane)))

    def build_graph(self) -> SegmentationGraph:
        """Return the float32 CPU graph: uint8 NHWC images -> (N, h, w) uint8 canonical ids.

        The authors' recipe: /255, no mean or std. A lane pixel wins over drivable area.
        """
        head = BinaryHeadsLabelHead((self._road, self._lane), taxonomy.UNLABELED)
        return SegmentationGraph(self._load(), (0.0, 0.0, 0.0), (255.0, 255.0, 255.0), head,
                                 divide=True)

    def export(self, export_format: str = 'onnx') -> Path:
        """Return ``build_graph()`` exported as ``'onnx'`` or ``'openvino'``, exported once."""
        width, height = self.input_size
        zero = 'z' if self._zero_subnormals else 'raw'
        return cached_export(Path(self.weights_path), f'{width}x{height}_{zero}',
                             self.build_graph, (height, width), ('labels',),
                             export_format=export_format)

    def infer_labels(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Resize and run the engine; return (N, h, w) uint8 canonical ids at the input size."""
        with self._lock:  # the resize buffer is reused
            return self.engine.run(self.resize(images))[0]

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch of (H, W, 3) uint8 RGB images; see ``Segmenter.segment``."""
        if not images:
            return ()
        labels = self.infer_labels(images)
        return tuple(
            PanopticResult(semantic=labels[i],
                           instance_map=np.zeros(labels[i].shape, dtype=np.int32))
            for i in range(len(images)))

    def release(self) -> None:
        """Drop the engine and free accelerator memory."""
        self.engine = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
