"""TwinLiteNet (Che et al., MAPR 2023): BDD100K drivable area and lane lines, pure PyTorch.

An ESPNet-C style encoder (p=2, q=3) with position and channel attention at 1/8 resolution and two
decoders of three 2x transposed convolutions each. Module and attribute names follow the state-dict
layout of the authors' checkpoint ``pretrained/best.pth`` (chequanghuy/TwinLiteNet), so that file
loads with ``load_state_dict(..., strict=True)`` once its ``module.`` prefix (``nn.DataParallel``)
is removed; ``load_twinlitenet`` does that.

Input: float tensor (N, 3, H, W), RGB scaled to [0, 1], no mean/std (the authors' recipe: cv2
BGR read, resize to 640x360, BGR->RGB, /255). Output: ``(drivable_logits, lane_logits)``, each
(N, 2, H, W); channel 1 is drivable area (first head) or lane line (second head).

Size constraint: the encoder halves H and W three times (stride-2 convolutions and average pools
that round up) and the decoders double them three times, so the outputs are
``8 * ceil(H / 8)`` x ``8 * ceil(W / 8)``: H and W must be multiples of ``INPUT_DIVISOR`` for the
outputs to match the input. The position attention builds an (HW/64)^2 matrix per image
(3600^2 floats = 52 MB at 640x360), so memory grows with the fourth power of the side length.
"""

from pathlib import Path
from typing import Tuple, Union

import torch
import torch.nn as nn

#: H and W of the input must be multiples of this (three stride-2 stages).
INPUT_DIVISOR = 8
#: The authors' input size, (width, height).
NATIVE_INPUT_SIZE = (640, 360)
_BN_EPS = 1e-3
_BRANCH_DILATIONS = (2, 4, 8, 16)  # besides the undilated ``d1`` branch


class ConvBnPrelu(nn.Module):
    """Square conv (no bias) -> BatchNorm -> PReLU, 'same' padding; ``stride`` divides H, W."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.act = nn.PReLU(out_channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return the activated convolution of ``features``."""
        return self.act(self.bn(self.conv(features)))


class BnPrelu(nn.Module):
    """BatchNorm -> PReLU on ``channels`` channels."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=_BN_EPS)
        self.act = nn.PReLU(channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return the normalised, activated ``features``."""
        return self.act(self.bn(features))


class PlainConv(nn.Module):
    """Square conv without bias, padded to keep the size (up to ``stride``); held as ``conv``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2 * dilation, dilation=dilation,
                              bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return the convolution of ``features``."""
        return self.conv(features)


class _SpatialPyramidBranches(nn.Module):
    """Reduce with ``c1``, then five parallel 3x3 convs (dilations 1, 2, 4, 8, 16) fused as ESP.

    The dilated branches are summed cumulatively (hierarchical feature fusion) before the
    concatenation, which removes gridding artefacts. Output channels: ``out_channels``; the
    undilated branch takes what the even split into five leaves over.
    """

    def __init__(self, in_channels: int, out_channels: int, reduce_kernel: int,
                 reduce_stride: int):
        super().__init__()
        width = max(out_channels // 5, 1)
        first_width = max(out_channels - 4 * width, 1)
        self.c1 = PlainConv(in_channels, width, reduce_kernel, reduce_stride)
        self.d1 = PlainConv(width, first_width, 3)
        for dilation in _BRANCH_DILATIONS:
            setattr(self, f'd{dilation}', PlainConv(width, width, 3, dilation=dilation))

    def branches(self, features: torch.Tensor) -> torch.Tensor:
        """Return the concatenated, hierarchically fused branch outputs."""
        reduced = self.c1(features)
        outputs = [self.d1(reduced)]
        running = None
        for dilation in _BRANCH_DILATIONS:
            branch = getattr(self, f'd{dilation}')(reduced)
            running = branch if running is None else running + branch
            outputs.append(running)
        return torch.cat(outputs, dim=1)


class StridedEspBlock(_SpatialPyramidBranches):
    """ESP block that halves H and W (stride-2 3x3 reduction), then BatchNorm and PReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, reduce_kernel=3, reduce_stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.act = nn.PReLU(out_channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return (N, out_channels, ceil(H/2), ceil(W/2)) features."""
        return self.act(self.bn(self.branches(features)))


class ResidualEspBlock(_SpatialPyramidBranches):
    """ESP block with a 1x1 reduction and an identity shortcut (in = out channels)."""

    def __init__(self, channels: int):
        super().__init__(channels, channels, reduce_kernel=1, reduce_stride=1)
        self.bn = BnPrelu(channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return features of the input's shape."""
        return self.bn(features + self.branches(features))


class ImagePyramid(nn.Module):
    """Downsample the image ``times`` times by 2 with 3x3 average pools (rounding up)."""

    def __init__(self, times: int):
        super().__init__()
        self.pool = nn.ModuleList(nn.AvgPool2d(3, stride=2, padding=1) for _ in range(times))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Return the downsampled image."""
        for pool in self.pool:
            image = pool(image)
        return image


class PositionAttention(nn.Module):
    """Self-attention over positions (DANet PAM); adds ``gamma`` times the result to the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.query_conv = nn.Conv2d(channels, channels // 8, 1)
        self.key_conv = nn.Conv2d(channels, channels // 8, 1)
        self.value_conv = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        #: Whether every key weight is zero; set by ``freeze_key_check`` (None: test per call).
        self.uniform_keys = None

    def freeze_key_check(self) -> None:
        """Decide the branch below once, from the loaded weights (graph export needs that)."""
        self.uniform_keys = not bool(self.key_conv.weight.any())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return features of the input's shape."""
        batch, channels, height, width = features.shape
        value = self.value_conv(features).flatten(2)  # (N, C, P)
        uniform = self.uniform_keys
        if uniform is None:
            uniform = not self.key_conv.weight.any()
        if uniform:
            # Every key is the bias, so each row of the energy is constant and its softmax
            # uniform: the output is the mean value at every position, O(P) instead of O(P^2).
            # True of the published checkpoint once its subnormals are zeroed (all 128 key
            # weights are subnormal): 0.8-0.9 s instead of 1.4-1.7 s per 640x360 pass on one CPU
            # thread of our (shared) 2-core AMD EPYC, outputs bit-identical on the BDD frames.
            attended = value.mean(dim=2, keepdim=True).expand_as(value)
        else:
            query = self.query_conv(features).flatten(2)  # (N, C/8, P)
            key = self.key_conv(features).flatten(2)
            weights = torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=-1)  # (N, P, P)
            attended = torch.bmm(value, weights.transpose(1, 2))
        return self.gamma * attended.view(batch, channels, height, width) + features


class ChannelAttention(nn.Module):
    """Self-attention over channels (DANet CAM); adds ``gamma`` times the result to the input."""

    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return features of the input's shape."""
        flat = features.flatten(2)  # (N, C, P)
        energy = torch.bmm(flat, flat.transpose(1, 2))  # (N, C, C)
        # The reference feeds max(energy) - energy to the softmax (favouring unlike channels).
        energy = energy.amax(dim=-1, keepdim=True) - energy
        attended = torch.bmm(torch.softmax(energy, dim=-1), flat)
        return self.gamma * attended.view_as(features) + features


class TwinLiteEncoder(nn.Module):
    """ESPNet-C encoder with attention: (N, 3, H, W) image -> (N, 32, H/8, W/8) features."""

    def __init__(self, p: int = 2, q: int = 3):
        super().__init__()
        self.level1 = ConvBnPrelu(3, 16, 3, 2)
        self.sample1 = ImagePyramid(1)
        self.sample2 = ImagePyramid(2)
        self.b1 = ConvBnPrelu(16 + 3, 19, 3)
        self.level2_0 = StridedEspBlock(16 + 3, 64)
        self.level2 = nn.ModuleList(ResidualEspBlock(64) for _ in range(p))
        self.b2 = ConvBnPrelu(128 + 3, 131, 3)
        self.level3_0 = StridedEspBlock(128 + 3, 128)
        self.level3 = nn.ModuleList(ResidualEspBlock(128) for _ in range(q))
        self.b3 = ConvBnPrelu(256, 32, 3)
        self.sa = PositionAttention(32)
        self.sc = ChannelAttention()
        self.conv_sa = ConvBnPrelu(32, 32, 3)
        self.conv_sc = ConvBnPrelu(32, 32, 3)
        self.classifier = ConvBnPrelu(32, 32, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Return the 1/8-resolution features of ``image``."""
        half = self.b1(torch.cat([self.level1(image), self.sample1(image)], dim=1))
        quarter_in = self.level2_0(half)
        quarter = quarter_in
        for block in self.level2:
            quarter = block(quarter)
        quarter = self.b2(torch.cat([quarter, quarter_in, self.sample2(image)], dim=1))
        eighth_in = self.level3_0(quarter)
        eighth = eighth_in
        for block in self.level3:
            eighth = block(eighth)
        eighth = self.b3(torch.cat([eighth_in, eighth], dim=1))
        fused = self.conv_sa(self.sa(eighth)) + self.conv_sc(self.sc(eighth))
        return self.classifier(fused)


class UpsampleBnPrelu(nn.Module):
    """2x2 stride-2 transposed conv (no bias) -> BatchNorm -> PReLU: doubles H and W."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS)
        self.act = nn.PReLU(out_channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return the upsampled, activated ``features``."""
        return self.act(self.bn(self.deconv(features)))


class TwinLiteNet(nn.Module):
    """Shared encoder; a decoder for the drivable area (``*_1``), one for lane lines (``*_2``)."""

    def __init__(self, p: int = 2, q: int = 3):
        super().__init__()
        self.encoder = TwinLiteEncoder(p, q)
        self.up_1_1 = UpsampleBnPrelu(32, 16)
        self.up_2_1 = UpsampleBnPrelu(16, 8)
        self.classifier_1 = UpsampleBnPrelu(8, 2)
        self.up_1_2 = UpsampleBnPrelu(32, 16)
        self.up_2_2 = UpsampleBnPrelu(16, 8)
        self.classifier_2 = UpsampleBnPrelu(8, 2)

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(drivable_logits, lane_logits)``, each (N, 2, 8*ceil(H/8), 8*ceil(W/8))."""
        features = self.encoder(image)
        drivable = self.classifier_1(self.up_2_1(self.up_1_1(features)))
        lanes = self.classifier_2(self.up_2_2(self.up_1_2(features)))
        return drivable, lanes


def zero_subnormals_(module: nn.Module) -> int:
    """Set every subnormal float in ``module``'s parameters and buffers to zero, in place.

    Returns:
        the number of values changed.

    Why: about a third of the published checkpoint's values are subnormal (|x| < 1.2e-38); x86
    CPUs may handle them in microcode (the issue measured 3.7 s -> 0.23 s per 640x360 pass; our
    AMD EPYC showed no difference, see ``seg_perception.backends.twinlitenet``). It also zeroes
    all key weights of the position attention, which lets it skip its (HW/64)^2 matrix. Such
    values are far below anything that can change a logit at float32 precision: the outputs
    were bit-identical on the BDD100K sample frames.

    """
    changed = 0
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if not tensor.is_floating_point():
                continue
            tiny = torch.finfo(tensor.dtype).tiny
            subnormal = (tensor != 0) & (tensor.abs() < tiny)
            changed += int(subnormal.sum())
            tensor.masked_fill_(subnormal, 0.0)
    return changed


def load_twinlitenet(path: Union[str, Path], zero_subnormals: bool = True) -> TwinLiteNet:
    """Build ``TwinLiteNet(2, 3)`` from a checkpoint, strictly, in eval mode on the CPU.

    Args:
        path: the authors' ``best.pth`` (a state dict, keys optionally prefixed ``module.``).
        zero_subnormals: flush subnormal weights to zero (see ``zero_subnormals_``).

    Raises:
        RuntimeError: the checkpoint's keys or shapes do not match (from ``load_state_dict``).

    """
    state = torch.load(str(path), map_location='cpu', weights_only=True)
    prefix = 'module.'
    state = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}
    network = TwinLiteNet(2, 3)
    network.load_state_dict(state, strict=True)
    if zero_subnormals:
        zero_subnormals_(network)
    for module in network.modules():
        if isinstance(module, PositionAttention):
            module.freeze_key_check()
    return network.eval()
