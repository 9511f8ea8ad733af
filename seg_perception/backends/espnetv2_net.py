"""ESPNetv2 semantic segmentation network (Mehta et al., CVPR 2019), pure PyTorch.

The module and attribute names mirror the state-dict layout of the Cityscapes checkpoints
published with sacmehta/EdgeNets (``espnetv2_s_{1.0,2.0}_city_1024x512.pth``), so those
files load with ``load_state_dict(..., strict=True)``.  Loading is left to the caller.

Input: float tensor (N, 3, H, W), RGB scaled to [0, 1] and normalised with the ImageNet
mean/std.  Output: float logits (N, num_classes, H, W).  For the Cityscapes checkpoints
channels 0..18 are the 19 Cityscapes trainIds and channel 19 is background.

Call ``.eval()`` before inference: the network is full of BatchNorm layers.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# The encoder halves the resolution four times and the decoder adds each 2x-upsampled
# stage to the matching encoder stage, so H and W must be multiples of 2**4.
INPUT_DIVISOR = 16

# Output channels of the encoder stages per width scale `s`:
# (level1, level2, level3, level4). The classification-only stages are not built.
ENCODER_WIDTHS = {
    0.5: (16, 32, 64, 128),
    1.0: (32, 64, 128, 256),
    1.25: (32, 80, 160, 320),
    1.5: (32, 96, 192, 384),
    2.0: (32, 128, 256, 512),
}
EESP_BRANCHES = 4
LEVEL3_REPEATS = 3
LEVEL4_REPEATS = 7
IMAGE_CHANNELS = 3

# Largest effective kernel size (receptive field of a dilated 3x3) allowed per EESP block.
MAX_FIELD_LEVEL2_DOWN = 13
MAX_FIELD_LEVEL3_DOWN = 11
MAX_FIELD_LEVEL3 = 9
MAX_FIELD_LEVEL4_DOWN = 9
MAX_FIELD_LEVEL4 = 7

# Decoder width for the 'city' variant of the reference implementation.
DECODER_BASE_WIDTH = 16
PYRAMID_SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)
PYRAMID_MIN_SIDE = 5


def _resize_bilinear(features, size):
    """Resize (N, C, h, w) float features to ``size`` (H, W) the way the checkpoints were trained.

    The reference uses ``align_corners=True`` everywhere; the weights expect it.
    """
    return F.interpolate(features, size=size, mode='bilinear', align_corners=True)


class ConvBnPrelu(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> per-channel PReLU, as separate named children.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride,
            padding=(kernel_size - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, features):
        """Return the activated convolution of ``features`` (float tensor)."""
        return self.act(self.bn(self.conv(features)))


class ConvBn(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d, no activation.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W) for stride 1.
    """

    def __init__(self, in_channels, out_channels, kernel_size, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size,
            padding=(kernel_size - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, features):
        """Return the normalised convolution of ``features`` (float tensor)."""
        return self.bn(self.conv(features))


class BnPrelu(nn.Module):
    """BatchNorm2d -> per-channel PReLU; shape preserving (N, C, H, W)."""

    def __init__(self, channels):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)

    def forward(self, features):
        """Return normalised and activated ``features``."""
        return self.act(self.bn(features))


class PackedConvBnPrelu(nn.Module):
    """Conv2d -> BatchNorm2d -> PReLU held in one ``nn.Sequential`` named ``cbr``.

    Same maths as :class:`ConvBnPrelu`; the decoder checkpoints store this layout.
    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self, in_channels, out_channels, kernel_size, groups=1):
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size,
                      padding=(kernel_size - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.PReLU(out_channels),
        )

    def forward(self, features):
        """Return the activated convolution of ``features``."""
        return self.cbr(features)


class PackedBnPrelu(nn.Module):
    """BatchNorm2d -> PReLU held in one ``nn.Sequential`` named ``br``; shape preserving."""

    def __init__(self, channels):
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))

    def forward(self, features):
        """Return normalised and activated ``features``."""
        return self.br(features)


class DilatedDepthwiseConv(nn.Module):
    """Depth-wise 3x3 convolution with a dilation rate, padded to keep (or halve) H and W."""

    def __init__(self, channels, dilation, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(
            channels, channels, 3, stride=stride, padding=dilation,
            dilation=dilation, groups=channels, bias=False)

    def forward(self, features):
        """Map (N, C, H, W) -> (N, C, H / stride, W / stride)."""
        return self.conv(features)


class ChannelShuffle(nn.Module):
    """Interleave the channels of ``groups`` equally sized groups (ShuffleNet style)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, features):
        """Map (N, C, H, W) -> (N, C, H, W) with channel c*G+g taken from group g, index c."""
        batch, channels, height, width = features.shape
        grouped = features.view(batch, self.groups, channels // self.groups, height, width)
        return grouped.transpose(1, 2).reshape(batch, channels, height, width)


def _branch_dilations(branches, max_field):
    """Return ascending dilation rates of the 3x3 depth-wise EESP branches.

    Branch i would have an effective kernel of 3 + 2 * i; kernels above ``max_field`` fall
    back to a plain 3x3 (dilation 1).  A 3x3 kernel dilated by d covers 2 * d + 1 pixels.
    """
    kernel_sizes = [3 + 2 * index for index in range(branches)]
    kernel_sizes = sorted(size if size <= max_field else 3 for size in kernel_sizes)
    return [(size - 1) // 2 for size in kernel_sizes]


class EespBlock(nn.Module):
    """Extremely Efficient Spatial Pyramid block: reduce, split, dilate, fuse, expand.

    With ``downsample=False`` it is a residual block (N, C, H, W) -> (N, C, H, W) ending in a
    PReLU.  With ``downsample=True`` the depth-wise branches use stride 2 and the block returns
    the raw (not activated, no residual) expansion (N, out_channels, H / 2, W / 2), which
    :class:`EespDownsampler` fuses and activates.
    """

    def __init__(self, in_channels, out_channels, branches, max_field, downsample=False):
        super().__init__()
        if out_channels % branches:
            raise ValueError(
                f'EESP output channels ({out_channels}) must be divisible by the number of '
                f'branches ({branches})')
        branch_channels = out_channels // branches
        self.downsample = downsample
        self.proj_1x1 = ConvBnPrelu(in_channels, branch_channels, 1, groups=branches)
        stride = 2 if downsample else 1
        self.spp_dw = nn.ModuleList(
            DilatedDepthwiseConv(branch_channels, dilation, stride)
            for dilation in _branch_dilations(branches, max_field))
        self.br_after_cat = BnPrelu(out_channels)
        self.conv_1x1_exp = ConvBn(out_channels, out_channels, 1, groups=branches)
        # Present in the checkpoints even for down-sampling blocks, where it is unused.
        self.module_act = nn.PReLU(out_channels)

    def forward(self, features):
        """Run the block on float ``features`` of shape (N, in_channels, H, W)."""
        reduced = self.proj_1x1(features)
        # Hierarchical feature fusion: each branch adds the previous branch's output, which
        # suppresses the gridding artefacts of the larger dilation rates.
        fused_branches = []
        running_sum = None
        for branch in self.spp_dw:
            branch_out = branch(reduced)
            running_sum = branch_out if running_sum is None else running_sum + branch_out
            fused_branches.append(running_sum)
        expanded = self.conv_1x1_exp(self.br_after_cat(torch.cat(fused_branches, dim=1)))
        if self.downsample:
            return expanded
        if expanded.shape == features.shape:
            expanded = expanded + features
        return self.module_act(expanded)


class EespDownsampler(nn.Module):
    """Halve H and W: [avg-pool, strided EESP] concatenated, plus an image shortcut.

    The shortcut ("input reinforcement") projects the RGB image, already average-pooled to
    the output resolution, to ``out_channels`` and adds it before the final PReLU.
    Shapes: features (N, in_channels, H, W), image (N, 3, H / 2, W / 2)
    -> (N, out_channels, H / 2, W / 2).
    """

    def __init__(self, in_channels, out_channels, branches, max_field):
        super().__init__()
        self.eesp = EespBlock(
            in_channels, out_channels - in_channels, branches, max_field, downsample=True)
        self.avg = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)
        self.inp_reinf = nn.Sequential(
            ConvBnPrelu(IMAGE_CHANNELS, IMAGE_CHANNELS, 3),
            ConvBn(IMAGE_CHANNELS, out_channels, 1),
        )
        self.act = nn.PReLU(out_channels)

    def forward(self, features, pooled_image):
        """Return the down-sampled features; ``pooled_image`` must match the output H, W."""
        merged = torch.cat([self.avg(features), self.eesp(features)], dim=1)
        return self.act(merged + self.inp_reinf(pooled_image))


def _pool_image_half(image):
    """Halve H, W of an (N, 3, H, W) image with the 3x3/stride-2 average pool of the shortcut."""
    return F.avg_pool2d(image, kernel_size=3, stride=2, padding=1)


class EespEncoder(nn.Module):
    """The ESPNetv2 (EESPNet) backbone up to its 1/16 stage, without classification layers.

    Maps a normalised image (N, 3, H, W) to four feature maps at strides 2, 4, 8 and 16
    with ``widths`` channels respectively.
    """

    def __init__(self, widths):
        super().__init__()
        self.level1 = ConvBnPrelu(IMAGE_CHANNELS, widths[0], 3, stride=2)
        self.level2_0 = EespDownsampler(
            widths[0], widths[1], EESP_BRANCHES, MAX_FIELD_LEVEL2_DOWN)
        self.level3_0 = EespDownsampler(
            widths[1], widths[2], EESP_BRANCHES, MAX_FIELD_LEVEL3_DOWN)
        self.level3 = nn.ModuleList(
            EespBlock(widths[2], widths[2], EESP_BRANCHES, MAX_FIELD_LEVEL3)
            for _ in range(LEVEL3_REPEATS))
        self.level4_0 = EespDownsampler(
            widths[2], widths[3], EESP_BRANCHES, MAX_FIELD_LEVEL4_DOWN)
        self.level4 = nn.ModuleList(
            EespBlock(widths[3], widths[3], EESP_BRANCHES, MAX_FIELD_LEVEL4)
            for _ in range(LEVEL4_REPEATS))

    def forward(self, image):
        """Return (stride2, stride4, stride8, stride16) float feature maps."""
        stride2 = self.level1(image)
        image_half = _pool_image_half(image)
        image_quarter = _pool_image_half(image_half)
        stride4 = self.level2_0(stride2, image_quarter)
        image_eighth = _pool_image_half(image_quarter)
        stride8 = self.level3_0(stride4, image_eighth)
        for block in self.level3:
            stride8 = block(stride8)
        image_sixteenth = _pool_image_half(image_eighth)
        stride16 = self.level4_0(stride8, image_sixteenth)
        for block in self.level4:
            stride16 = block(stride16)
        return stride2, stride4, stride8, stride16


class EfficientPyramidPooling(nn.Module):
    """Multi-scale context module used at every decoder stage (EfficientPyrPool).

    Projects to ``proj_channels``, runs a depth-wise 3x3 at each of ``PYRAMID_SCALES`` times
    the feature size (sides at least 5), brings every branch back to the input size, then
    shuffles, fuses and projects to ``out_channels``.
    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self, in_channels, proj_channels, out_channels, normalize_output=True):
        super().__init__()
        branch_count = len(PYRAMID_SCALES)
        stacked_channels = proj_channels * branch_count
        self.projection_layer = PackedConvBnPrelu(in_channels, proj_channels, 1)
        self.stages = nn.ModuleList(
            nn.Conv2d(proj_channels, proj_channels, 3, padding=1, groups=proj_channels,
                      bias=False)
            for _ in PYRAMID_SCALES)
        self.merge_layer = nn.Sequential(
            PackedBnPrelu(stacked_channels),
            ChannelShuffle(branch_count),
            PackedConvBnPrelu(stacked_channels, proj_channels, 3, groups=proj_channels),
            # The classifier layer (normalize_output=False) carries the bias of the logits.
            nn.Conv2d(proj_channels, out_channels, 1, bias=not normalize_output),
        )
        self.normalize_output = normalize_output
        if normalize_output:
            self.br = PackedBnPrelu(out_channels)

    def _run_branch(self, conv, scale, projected):
        height, width = projected.shape[-2:]
        scaled_size = (max(math.ceil(height * scale), PYRAMID_MIN_SIDE),
                       max(math.ceil(width * scale), PYRAMID_MIN_SIDE))
        if scale > 1.0:
            upsampled = _resize_bilinear(projected, scaled_size)
            return F.adaptive_avg_pool2d(conv(upsampled), (height, width))
        if scale < 1.0:
            pooled = F.adaptive_avg_pool2d(projected, scaled_size)
            return _resize_bilinear(conv(pooled), (height, width))
        return conv(projected)

    def forward(self, features):
        """Return pyramid-pooled features for float ``features`` (N, in_channels, H, W)."""
        projected = self.projection_layer(features)
        branches = [self._run_branch(conv, scale, projected)
                    for conv, scale in zip(self.stages, PYRAMID_SCALES)]
        merged = self.merge_layer(torch.cat(branches, dim=1))
        if self.normalize_output:
            return self.br(merged)
        return merged


class GatedSkipProjection(nn.Module):
    """Project an encoder skip feature to decoder width, gated per channel (EfficientPWConv).

    A grouped 3x3 conv maps in_channels -> out_channels; a sigmoid gate computed from the
    globally pooled input scales each output channel.
    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.wt_layer = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        self.expansion_layer = PackedConvBnPrelu(
            in_channels, out_channels, 3, groups=math.gcd(in_channels, out_channels))

    def forward(self, features):
        """Return the gated projection of float ``features``."""
        return self.expansion_layer(features) * self.wt_layer(features)


class ESPNetv2Segmentation(nn.Module):
    """ESPNetv2 segmentation network: EESP encoder + bottom-up pyramid-pooling decoder.

    Args:
        scale: encoder width multiplier, one of 0.5, 1.0, 1.25, 1.5, 2.0.
        num_classes: number of output channels (20 for the Cityscapes checkpoints).

    ``forward`` takes a normalised float image (N, 3, H, W) with H and W multiples of
    ``INPUT_DIVISOR`` and returns float logits (N, num_classes, H, W), bilinearly upsampled
    from the decoder's stride-2 output; with ``upsample_logits=False``, the stride-2 logits
    (N, num_classes, H / 2, W / 2) themselves.
    """

    #: Stride of the decoder's logits, before the final upsampling.
    LOGITS_STRIDE = 2

    def __init__(self, scale: float = 2.0, num_classes: int = 20, upsample_logits: bool = True):
        super().__init__()
        self.upsample_logits = upsample_logits
        if scale not in ENCODER_WIDTHS:
            raise ValueError(
                f'Unsupported ESPNetv2 scale {scale!r}; choose one of '
                f'{sorted(ENCODER_WIDTHS)}')
        if num_classes < 2:
            raise ValueError(f'num_classes must be at least 2, got {num_classes}')
        widths = ENCODER_WIDTHS[scale]
        decoder_widths = (4 * DECODER_BASE_WIDTH, 3 * DECODER_BASE_WIDTH,
                          2 * DECODER_BASE_WIDTH)
        pyramid_channels = min(num_classes // 2, DECODER_BASE_WIDTH)

        self.base_net = EespEncoder(widths)
        self.bu_dec_l1 = EfficientPyramidPooling(
            widths[3], pyramid_channels, decoder_widths[0])
        self.bu_dec_l2 = EfficientPyramidPooling(
            decoder_widths[0], pyramid_channels, decoder_widths[1])
        self.bu_dec_l3 = EfficientPyramidPooling(
            decoder_widths[1], pyramid_channels, decoder_widths[2])
        self.bu_dec_l4 = EfficientPyramidPooling(
            decoder_widths[2], pyramid_channels, num_classes, normalize_output=False)

        # Skip projections, named after the decoder stage they feed.
        self.merge_enc_dec_l2 = GatedSkipProjection(widths[2], decoder_widths[0])
        self.merge_enc_dec_l3 = GatedSkipProjection(widths[1], decoder_widths[1])
        self.merge_enc_dec_l4 = GatedSkipProjection(widths[0], decoder_widths[2])

        self.bu_br_l2 = nn.Sequential(
            nn.BatchNorm2d(decoder_widths[0]), nn.PReLU(decoder_widths[0]))
        self.bu_br_l3 = nn.Sequential(
            nn.BatchNorm2d(decoder_widths[1]), nn.PReLU(decoder_widths[1]))
        self.bu_br_l4 = nn.Sequential(
            nn.BatchNorm2d(decoder_widths[2]), nn.PReLU(decoder_widths[2]))

    @staticmethod
    def _check_input(image):
        if image.dim() != 4 or image.shape[1] != IMAGE_CHANNELS:
            raise ValueError(
                f'Expected an image tensor of shape (N, 3, H, W), got {tuple(image.shape)}')
        if not image.is_floating_point():
            raise ValueError(f'Expected a floating point image tensor, got {image.dtype}')
        height, width = image.shape[-2:]
        if height % INPUT_DIVISOR or width % INPUT_DIVISOR:
            raise ValueError(
                f'Input height and width must be divisible by {INPUT_DIVISOR}, '
                f'got {height}x{width} (H x W)')

    @staticmethod
    def _upsample_to(features, reference):
        return _resize_bilinear(features, reference.shape[-2:])

    def forward(self, image):
        """Segment ``image`` (N, 3, H, W) float -> logits (N, num_classes, H, W) float."""
        self._check_input(image)
        stride2, stride4, stride8, stride16 = self.base_net(image)

        decoded = self.bu_dec_l1(stride16)
        decoded = self._upsample_to(decoded, stride8) + self.merge_enc_dec_l2(stride8)
        decoded = self.bu_dec_l2(self.bu_br_l2(decoded))

        decoded = self._upsample_to(decoded, stride4) + self.merge_enc_dec_l3(stride4)
        decoded = self.bu_dec_l3(self.bu_br_l3(decoded))

        decoded = self._upsample_to(decoded, stride2) + self.merge_enc_dec_l4(stride2)
        logits = self.bu_dec_l4(self.bu_br_l4(decoded))
        if not self.upsample_logits:
            return logits
        return _resize_bilinear(logits, image.shape[-2:])
