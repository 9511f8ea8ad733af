"""ESPNetv2 trained on Cityscapes (Mehta et al., CVPR 2019) as a segmentation backend.

Checkpoints: the authors' ``espnetv2_s_{1.0,2.0}_city_1024x512.pth`` from sacmehta/EdgeNets.
Recipe (the authors' test script): RGB, bilinear resize to 1024x512, /255, ImageNet mean/std.
The network is semantic only; thing instances come from connected components.
"""

from typing import Sequence, Tuple

import numpy as np
import torch

from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import (BackendError, BackendOptions, network_input_size,
                                          resized_batch, Segmenter)
from seg_perception.backends.espnetv2_net import ESPNetv2Segmentation, INPUT_DIVISOR
from seg_perception.backends.torch_device import select_device
from seg_perception.components import panoptic_from_semantic
from seg_perception.structures import PanopticResult
from seg_perception.weights import resolve_weights, WeightsError, WeightsSpec

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

DEFAULT_INPUT_SIZE = (1024, 512)
#: Pixel stride of the confidence map (see ``ESPNetv2Backend.infer_labels``).
CONFIDENCE_STRIDE = 4
_NUM_OUTPUTS = 20  # 19 Cityscapes train ids + background (index 19 -> unlabeled)
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0


class ESPNetv2Backend(Segmenter):
    """Cityscapes ESPNetv2 with canonical labels and connected-component instances."""

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
            CHECKPOINTS[options.model_scale], options.weights_path, options.weights_dirs,
            allow_download=options.allow_download)
        self.weights_path = path
        # channels_last: measured 1.2 s instead of 3.0 s per 1024x512 forward pass on a 2-core
        # CPU (oneDNN's grouped and depthwise convolutions prefer NHWC); logits agree to 1e-5.
        self.network = _load_network(path, options.model_scale).to(
            self.device, memory_format=torch.channels_last)
        if self._half:
            self.network.half()
        self._label_table = torch.from_numpy(
            label_sets.cityscapes_train_id_table()[:_NUM_OUTPUTS].copy()).to(self.device)
        self._mean = torch.from_numpy(_IMAGENET_MEAN).to(self.device).view(1, 3, 1, 1)
        self._inv_std = torch.from_numpy(1.0 / _IMAGENET_STD).to(self.device).view(1, 3, 1, 1)

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical ids of the 19 Cityscapes classes."""
        table = label_sets.cityscapes_train_id_table()[:_NUM_OUTPUTS]
        return tuple(sorted(int(c) for c in set(table.tolist()) - {taxonomy.UNLABELED}))

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Resize and normalise a batch.

        Args:
            images: each (H, W, 3) uint8 RGB.

        Returns:
            (N, 3, input_height, input_width) float tensor on the backend's device.

        """
        resized = resized_batch(images, self.input_size)
        # NHWC pixels viewed as NCHW are already channels_last, as the network wants them.
        batch = torch.from_numpy(resized).to(self.device).permute(0, 3, 1, 2).float()
        batch = (batch - self._mean) * self._inv_std
        return batch.half() if self._half else batch

    @torch.inference_mode()
    def infer_labels(self, batch: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
        """Run the network on a ``preprocess``ed batch; see ``labels_from_logits``."""
        return self.labels_from_logits(self.network(batch).float())

    @torch.inference_mode()
    def labels_from_logits(self, logits: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
        """Label every pixel.

        Args:
            logits: (N, 20, h, w) float network output, channels_last.

        Returns:
            (labels, confidence): (N, h, w) uint8 canonical ids and (N, h, w) float32 softmax
            probability of the most likely class, at the network's input resolution. The
            confidence is computed on every ``CONFIDENCE_STRIDE``-th pixel and repeated: it only
            feeds instance scores (means over regions), and a full-resolution softmax cost more
            than the rest of the post-processing together.

        """
        # The logits are channels_last, so a reduction over the last dim of the NHWC view reads
        # memory in order: measured 110 ms instead of 315 ms for a softmax + max at 1024x512.
        train_ids = logits.permute(0, 2, 3, 1).argmax(dim=-1)
        labels = self._label_table[train_ids].cpu().numpy()
        sparse = logits[:, :, ::CONFIDENCE_STRIDE, ::CONFIDENCE_STRIDE]
        sparse_confidence = torch.softmax(sparse, dim=1).amax(dim=1).cpu().numpy()
        confidence = sparse_confidence.repeat(CONFIDENCE_STRIDE, axis=1).repeat(
            CONFIDENCE_STRIDE, axis=2)[:, :labels.shape[1], :labels.shape[2]]
        return labels, confidence

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch of (H, W, 3) uint8 RGB images; see ``Segmenter.segment``."""
        if not images:
            return ()
        labels, confidence = self.infer_labels(self.preprocess(images))
        return tuple(
            panoptic_from_semantic(
                labels[i], images[i].shape[:2], self._options.min_instance_area_px,
                confidence[i])
            for i in range(len(images))
        )

    def release(self) -> None:
        """Drop the network and free accelerator memory."""
        self.network = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()


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
