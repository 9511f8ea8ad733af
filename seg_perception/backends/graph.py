"""One torch module from uint8 pixels to labels: what every inference engine runs.

``SegmentationGraph`` wraps a published network between its input normalisation and its label
head, so that the whole per-frame tensor work runs where the tensors are (the torch device, or an
ONNX Runtime / OpenVINO engine after export) and only small uint8 label maps come back to the
host:

    images (N, H, W, 3) uint8 RGB, NHWC as decoded
      -> float, per-channel ``(x - mean) * factor`` (or ``/ factor``: each backend keeps
         its authors' arithmetic, so labels match the unwrapped network bit for bit)
      -> network -> logits
      -> head -> labels (N, H, W) uint8 canonical ids [, confidence (N, ceil(H/s), ceil(W/s))]

The host-side work left per frame is one resize into a reused uint8 buffer.
"""

from typing import Sequence, Tuple

import torch
from torch import nn


class SegmentationGraph(nn.Module):
    """Normalise uint8 NHWC images, run ``network``, turn its outputs into labels with ``head``.

    Args:
        network: takes (N, 3, H, W) float, returns logits (a tensor or a tuple of them).
        mean: per-channel value (3,) subtracted from the 0..255 pixel values (RGB order).
        factor: per-channel factor (3,) applied after the subtraction.
        head: takes the network's outputs (unpacked when a tuple), returns label tensors.
        divide: divide by ``factor`` instead of multiplying.

    """

    def __init__(self, network: nn.Module, mean: Sequence[float], factor: Sequence[float],
                 head: nn.Module, divide: bool = False):
        super().__init__()
        self.network = network
        self.head = head
        self.divide = divide
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer('factor', torch.tensor(factor, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor):
        """(N, H, W, 3) uint8 RGB -> the head's outputs (see the module docstring)."""
        # NHWC viewed as NCHW is channels_last, which the CPU convolutions prefer.
        pixels = images.permute(0, 3, 1, 2).float()
        centred = pixels - self.mean
        normalised = centred / self.factor if self.divide else centred * self.factor
        weight = next(self.network.parameters())
        outputs = self.network(normalised.to(weight.dtype))
        if isinstance(outputs, (tuple, list)):
            return self.head(*outputs)
        return self.head(outputs)


class ArgmaxLabelHead(nn.Module):
    """Most likely class per pixel as a canonical id, and a sparse confidence map.

    Args:
        label_table: (C,) canonical id of each network output channel (uint8 values).
        confidence_stride: the confidence (softmax probability of the most likely class) is
            computed on every s-th pixel in both directions; it only feeds instance scores
            (means over regions), and at full resolution it cost more than the rest of the
            post-processing together.
        channels_last_reduction: reduce over the last axis of an NHWC view (faster in torch
            eager on the CPU, where the logits are channels_last); exported graphs reduce
            over axis 1, which the engines lay out themselves.

    Outputs: labels (N, H, W) uint8 and confidence (N, ceil(H/s), ceil(W/s)) float32.
    """

    def __init__(self, label_table: Sequence[int], confidence_stride: int = 4,
                 channels_last_reduction: bool = False):
        super().__init__()
        self.register_buffer('label_table', torch.tensor(list(label_table), dtype=torch.uint8))
        self.stride = int(confidence_stride)
        self.channels_last_reduction = channels_last_reduction

    def forward(self, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(N, C, H, W) logits -> (labels, confidence)."""
        if self.channels_last_reduction:
            indices = logits.permute(0, 2, 3, 1).argmax(dim=-1)
        else:
            indices = logits.argmax(dim=1)
        labels = self.label_table[indices]
        sparse = logits[:, :, ::self.stride, ::self.stride].float()
        confidence = torch.softmax(sparse, dim=1).amax(dim=1)
        return labels, confidence


class BinaryHeadsLabelHead(nn.Module):
    """Labels from two-channel heads: a pixel takes the id of the last head that fires.

    Args:
        class_ids: canonical id of each head, in order (a later head wins over an earlier).
        background: id of pixels where no head fires.

    A head fires where its channel 1 logit is larger than its channel 0 logit (ties go to
    channel 0, as ``torch.argmax`` does). Output: labels (N, H, W) uint8.
    """

    def __init__(self, class_ids: Sequence[int], background: int):
        super().__init__()
        self.class_ids = tuple(int(c) for c in class_ids)
        self.background = int(background)

    def forward(self, *heads: torch.Tensor) -> torch.Tensor:
        """Each head (N, 2, H, W) -> labels (N, H, W) uint8."""
        if len(heads) != len(self.class_ids):
            raise ValueError(f'expected {len(self.class_ids)} heads, got {len(heads)}')
        first = heads[0]
        labels = torch.full(first.shape[:1] + first.shape[2:], self.background,
                            dtype=torch.uint8, device=first.device)
        for class_id, head in zip(self.class_ids, heads):
            labels = torch.where(head[:, 1] > head[:, 0],
                                 torch.full_like(labels, class_id), labels)
        return labels
