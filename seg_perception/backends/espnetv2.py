"""ESPNetv2 trained on Cityscapes (Mehta et al., CVPR 2019) as a segmentation backend.

Checkpoints: the authors' ``espnetv2_s_{1.0,2.0}_city_1024x512.pth`` from sacmehta/EdgeNets.
Recipe (the authors' test script): RGB, bilinear resize to 1024x512, /255, ImageNet mean/std.
The network is semantic only; thing instances come from connected components.
"""

import dataclasses
from pathlib import Path
import threading
from typing import Sequence, Tuple

import cv2
import numpy as np
import torch

from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import (BackendError, BackendOptions, BatchResizer,
                                          network_input_size, Segmenter)
from seg_perception.backends.engines import create_requested_engine, OPENVINO_PRECISION_KEY
from seg_perception.backends.espnetv2_net import ESPNetv2Segmentation, INPUT_DIVISOR
from seg_perception.backends.graph import ArgmaxLabelHead, SegmentationGraph
from seg_perception.backends.graph_export import cached_export
from seg_perception.backends.torch_device import select_device
from seg_perception.components import panoptic_from_semantic
from seg_perception.structures import PanopticResult
from seg_perception.weights import (default_cache_dir, resolve_weights, WeightsError, WeightsSpec,
                                    with_subfolder)

_EDGENETS_COMMIT = '2b232d3f7fb60658755dad1ebca0ffc895cc795e'
_EDGENETS_ZOO = (
    f'https://github.com/sacmehta/EdgeNets/raw/{_EDGENETS_COMMIT}'
    '/model/segmentation/model_zoo/espnetv2/'
)

#: Published Cityscapes checkpoints by width multiplier.
CHECKPOINTS = {
    1.0: WeightsSpec(
        'espnetv2_s_1.0_city_1024x512.pth',
        '0918c833fed889e32901ce739b1784fdd2b79f95a9aea199a469ca3394dd7a14',
        _EDGENETS_ZOO + 'espnetv2_s_1.0_city_1024x512.pth'),
    2.0: WeightsSpec(
        'espnetv2_s_2.0_city_1024x512.pth',
        'a72d59699801c7ce8e8b89a53af9097eaaa60dc12180ecde86fd700ba1222fe8',
        _EDGENETS_ZOO + 'espnetv2_s_2.0_city_1024x512.pth'),
}

#: Sub-folder of weights folders where the checkpoints may live (as in the sample data).
WEIGHTS_SUBDIR = 'espnetv2_edgenets'
DEFAULT_INPUT_SIZE = (1024, 512)
#: Pixel stride of the confidence map (see ``ESPNetv2Backend.infer_labels``).
CONFIDENCE_STRIDE = 4
#: Extra option (``BackendOptions.extra``): ``'true'`` upsamples the logits to the input size
#: before the argmax, as the authors do. The default takes the argmax at the decoder's stride 2
#: and repeats each label 2 x 2 on the host: upsampling 20 channels of logits and the argmax
#: of 4x the pixels cost 26 of 278 ms of an OpenVINO bf16 forward at 1024x512 here, for
#: -0.0014 / -0.0012 mIoU on the CamVid / Cityscapes samples (torch).
ARGMAX_AT_INPUT_SIZE_KEY = 'espnetv2_argmax_at_input_size'
_NUM_OUTPUTS = 20  # 19 Cityscapes train ids + background (index 19 -> unlabeled)
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0


class ESPNetv2Backend(Segmenter):
    """Cityscapes ESPNetv2 with canonical labels and connected-component instances.

    Per batch: one bilinear resize into a reused uint8 buffer on the host, then the engine runs
    normalisation, network, argmax, label lookup and the sparse confidence in one graph
    (``graph.SegmentationGraph``) and returns (N, h, w) uint8 labels and a small confidence map;
    instances come from connected components at the network resolution.
    """

    name = 'espnetv2'

    def __init__(self, options: BackendOptions = BackendOptions()):
        self._options = options
        self.input_size = network_input_size(self.name, options, DEFAULT_INPUT_SIZE,
                                             INPUT_DIVISOR)
        if options.model_scale not in CHECKPOINTS:
            raise BackendError(
                f'espnetv2 model_scale {options.model_scale} has no Cityscapes checkpoint; '
                f'use one of {sorted(CHECKPOINTS)}')
        self.device = select_device(options.device)
        self._half = bool(options.half and self.device.type == 'cuda')
        path = resolve_weights(
            CHECKPOINTS[options.model_scale], options.weights_path,
            with_subfolder(options.weights_dirs, WEIGHTS_SUBDIR),
            allow_download=options.allow_download)
        self.weights_path = path
        argmax_at_input_size = \
            options.extra.get(ARGMAX_AT_INPUT_SIZE_KEY, 'false').strip().lower() == 'true'
        #: Input pixels per label pixel of the engine's output (see ``ARGMAX_AT_INPUT_SIZE_KEY``).
        self.label_stride = 1 if argmax_at_input_size else ESPNetv2Segmentation.LOGITS_STRIDE
        _load_network(path, options.model_scale)  # a bad checkpoint fails here, for any engine
        self.engine = create_requested_engine(
            options.engine, self.device, self._half, self.build_graph, self.export,
            options.extra.get(OPENVINO_PRECISION_KEY, 'auto'),
            trt_cache_dir=default_cache_dir() / 'tensorrt',
            parallel_frames=options.parallel_frames)
        self.parallel_frames = self.engine.parallel_frames
        self.engine_description = self.engine.description
        self.resize = BatchResizer(self.input_size)
        self._lock = threading.Lock()
        self._maps_at_input_size = False

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical ids of the 19 Cityscapes classes."""
        table = label_sets.cityscapes_train_id_table()[:_NUM_OUTPUTS]
        return tuple(sorted(int(c) for c in set(table.tolist()) - {taxonomy.UNLABELED}))

    def build_graph(self, for_export: bool = False) -> SegmentationGraph:
        """Return the float32 CPU graph: uint8 NHWC images -> (labels, confidence).

        Outputs: (N, h / k, w / k) uint8 canonical ids, k = ``label_stride``, and
        (N, ceil(h/4), ceil(w/4)) float32 softmax probability of the most likely class on
        every ``CONFIDENCE_STRIDE``-th pixel of the input.

        Args:
            for_export: reduce over the channel axis as ONNX lays it out (torch eager on the
                CPU reduces over the last axis of the channels_last logits: 110 ms instead of
                315 ms for a softmax + max at 1024x512 when it was measured).

        """
        network = _load_network(self.weights_path, self._options.model_scale)
        network.upsample_logits = self.label_stride == 1
        head = ArgmaxLabelHead(label_sets.cityscapes_train_id_table()[:_NUM_OUTPUTS].tolist(),
                               CONFIDENCE_STRIDE // self.label_stride,
                               channels_last_reduction=not for_export)
        return SegmentationGraph(network, _IMAGENET_MEAN.tolist(),
                                 (1.0 / _IMAGENET_STD).tolist(), head)

    def export(self, export_format: str = 'onnx') -> Path:
        """Return ``build_graph(for_export=True)`` exported as ``'onnx'`` or ``'openvino'``.

        Exported once per checkpoint, scale and input size (see ``graph_export``).
        """
        width, height = self.input_size
        argmax = '_fullargmax' if self.label_stride == 1 else ''
        return cached_export(
            Path(self.weights_path), f's{self._options.model_scale:g}_{width}x{height}{argmax}',
            lambda: self.build_graph(for_export=True), (height, width),
            ('labels', 'confidence'), export_format=export_format)

    def infer_labels(self, images: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """Resize and run the engine.

        Args:
            images: each (H, W, 3) uint8 RGB.

        Returns:
            (labels, confidence): (N, h / k, w / k) uint8 canonical ids, for the network's
            input size (w, h) and k = ``label_stride``, and (N, ceil(h/4), ceil(w/4)) float32
            confidence (stride ``CONFIDENCE_STRIDE`` in input pixels).

        """
        with self._lock:  # the resize buffer is reused
            return self.engine.run(self.resize(images))

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch of (H, W, 3) uint8 RGB images; see ``Segmenter.segment``."""
        if not images:
            return ()
        labels, confidence = self.infer_labels(images)
        return tuple(self.panoptic(labels[i], confidence[i], images[i].shape[:2])
                     for i in range(len(images)))

    def panoptic(self, labels: np.ndarray, confidence: np.ndarray,
                 image_size: Tuple[int, int], at_input_size: bool = None) -> PanopticResult:
        """Instances of one frame's engine outputs.

        Connected components run on the labels as the engine gives them, at 1 / k of the
        input size: the same instances, boxes, areas and scores as at the input size (a
        k x k repetition keeps 8-connectivity; each pixel weighs k x k), for 1 / k^2 of the
        pixels. The maps stay at that stride: the pipeline's nearest-neighbour resize to the
        image gives the same pixels as repeating them k x k first (it picks source pixel
        floor((x + 0.5) * s) at scale s, and floor(floor(v) / k) = floor(v / k)), without the
        repeat and with the track-id lookup on 1 / k^2 of the pixels. After
        ``keep_maps_at_input_size`` both maps are repeated k x k to the input size.

        Args:
            labels: (h / k, w / k) uint8 canonical ids, as from ``infer_labels``.
            confidence: (ceil(h/4), ceil(w/4)) float32, as from ``infer_labels``.
            image_size: (H, W) of the input image (boxes and areas are in its pixels).
            at_input_size: repeat the maps to the input size (None: as set by
                ``keep_maps_at_input_size``).

        """
        result = panoptic_from_semantic(
            labels, image_size, self._options.min_instance_area_px, confidence,
            score_stride=CONFIDENCE_STRIDE // self.label_stride)
        if at_input_size is None:
            at_input_size = self._maps_at_input_size
        if self.label_stride == 1 or not at_input_size:
            return result
        width, height = self.input_size
        return dataclasses.replace(
            result, semantic=_repeat(result.semantic, width, height),
            instance_map=_repeat(result.instance_map, width, height))

    def keep_maps_at_input_size(self) -> None:
        """Repeat the label maps k x k to the input size (see ``Segmenter``)."""
        self._maps_at_input_size = True

    def release(self) -> None:
        """Drop the engine and free accelerator memory."""
        self.engine = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()


def _repeat(labels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Repeat each pixel of a (height / k, width / k) uint8 or int32 map k x k times."""
    # cv2's nearest neighbour at an integer factor repeats; 0.3 ms for int32 at 1024x512 here,
    # numpy's repeat 0.55 ms.
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def _load_network(path, scale: float) -> torch.nn.Module:
    try:
        state = torch.load(str(path), map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise WeightsError(f'cannot read checkpoint {path}: {error}') from error
    network = ESPNetv2Segmentation(scale=scale, num_classes=_NUM_OUTPUTS)
    try:
        network.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise WeightsError(
            f'checkpoint {path} does not fit ESPNetv2 s={scale} (strict key match): {error}'
        ) from error
    return network.eval()
