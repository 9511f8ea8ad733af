"""LSTR, the lane shape transformer, for the authors' TuSimple checkpoint (strict key match).

Liu et al., "End-to-end Lane Shape Prediction with Transformers", WACV 2021.

Architecture (the authors' ``config/LSTR.json``): a small ResNet (BasicBlocks, 1-2-2-2 blocks of
16-32-64-128 channels, strides 1-2-2-2, after a 7x7 stride-2 stem and max pooling) gives a
1/32-resolution feature map; a 1x1 convolution projects it to 32 channels; a DETR-style
transformer (2 encoder and 2 decoder layers, post-norm, 2 heads, feed-forward 128, normalised
sine position encoding) turns 7 learned queries into 7 lane hypotheses. Per query a linear
head gives lane / no-lane logits, an MLP 4 lane-specific curve values and another MLP 4 values
averaged over the queries (the camera-dependent parameters every lane shares).

A lane's 8 values, in image coordinates normalised to [0, 1]: ``lower, upper`` (the rows it
spans, ``lower < upper``), then ``k, f, m, n, b, b'`` of
``x(y) = k / (y - f)^2 + m / (y - f) + n + b * y - b'``.
"""

from pathlib import Path
from typing import Tuple

import torch
from torch import nn
import torch.nn.functional as F

#: Network input (width, height) and the authors' BGR normalisation (of values in [0, 1]).
INPUT_SIZE = (640, 360)
BGR_MEAN = (0.40789654, 0.44719302, 0.47026115)
BGR_STD = (0.28863828, 0.27408164, 0.27809835)
QUERIES = 7


class FrozenBatchNorm(nn.Module):
    """Batch norm with fixed statistics and affine parameters (the stem's)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        for name, value in (('weight', 1.0), ('bias', 0.0), ('running_mean', 0.0),
                            ('running_var', 1.0)):
            self.register_buffer(name, torch.full((channels,), value))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise (N, C, H, W) with the stored statistics."""
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (projected when the shape changes)."""

    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.downsample = None
        if stride != 1 or inputs != outputs:
            self.downsample = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False),
                                            nn.BatchNorm2d(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the block's (N, C', H', W') output."""
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + shortcut)


def sine_positions(height: int, width: int, channels: int, device) -> torch.Tensor:
    """Return (channels, height, width) normalised sine/cosine positions (y half, then x).

    Each half has ``channels / 2`` features: sin and cos of the position (scaled to 2 pi over
    the map) divided by 10000 ** (2 * floor(i / 2) / (channels / 2)), interleaved.
    """
    half = channels // 2
    rows = torch.arange(1, height + 1, dtype=torch.float32, device=device)
    cols = torch.arange(1, width + 1, dtype=torch.float32, device=device)
    rows = rows / (height + 1e-6) * 2 * torch.pi
    cols = cols / (width + 1e-6) * 2 * torch.pi
    index = torch.arange(half, dtype=torch.float32, device=device)
    divisor = 10000.0 ** (2 * torch.div(index, 2, rounding_mode='floor') / half)

    def encode(values: torch.Tensor) -> torch.Tensor:
        angles = values[:, None] / divisor  # (n, half)
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)

    y = encode(rows)[:, None, :].expand(height, width, half)
    x = encode(cols)[None, :, :].expand(height, width, half)
    return torch.cat((y, x), dim=2).permute(2, 0, 1)


class EncoderLayer(nn.Module):
    """Self-attention (positions added to queries and keys) and feed-forward, post-norm."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads)
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Return the updated (S, N, dim) sequence; ``pos`` is (S, N, dim)."""
        keyed = src + pos
        src = self.norm1(src + self.self_attn(keyed, keyed, src, need_weights=False)[0])
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class DecoderLayer(nn.Module):
    """Query self-attention, cross-attention to the memory, feed-forward; post-norm."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads)
        self.multihead_attn = nn.MultiheadAttention(dim, heads)
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor,
                query_pos: torch.Tensor) -> torch.Tensor:
        """Return the updated (Q, N, dim) queries."""
        keyed = tgt + query_pos
        tgt = self.norm1(tgt + self.self_attn(keyed, keyed, tgt, need_weights=False)[0])
        attended = self.multihead_attn(tgt + query_pos, memory + pos, memory,
                                       need_weights=False)[0]
        tgt = self.norm2(tgt + attended)
        return self.norm3(tgt + self.linear2(F.relu(self.linear1(tgt))))


class Encoder(nn.Module):
    """A stack of encoder layers."""

    def __init__(self, layers: int, dim: int, heads: int, hidden: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, hidden) for _ in range(layers))

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Run every layer over the (S, N, dim) sequence."""
        for layer in self.layers:
            src = layer(src, pos)
        return src


class Decoder(nn.Module):
    """A stack of decoder layers and a final layer norm."""

    def __init__(self, layers: int, dim: int, heads: int, hidden: int):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, hidden) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tgt, memory, pos, query_pos) -> torch.Tensor:
        """Run every layer over the (Q, N, dim) queries, then the final norm."""
        for layer in self.layers:
            tgt = layer(tgt, memory, pos, query_pos)
        return self.norm(tgt)


class Transformer(nn.Module):
    """Encoder over the feature map, decoder over the lane queries."""

    def __init__(self, dim: int = 32, heads: int = 2, hidden: int = 128, layers: int = 2):
        super().__init__()
        self.encoder = Encoder(layers, dim, heads, hidden)
        self.decoder = Decoder(layers, dim, heads, hidden)


class HeadMLP(nn.Module):
    """Linear layers with ReLU between them."""

    def __init__(self, dim: int, outputs: int, depth: int = 3):
        super().__init__()
        sizes = [dim] * depth + [outputs]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layers to (..., dim)."""
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


class LSTR(nn.Module):
    """The TuSimple LSTR: (N, 3, 360, 640) normalised BGR -> logits (N, 7, 2), curves (N, 7, 8)."""

    def __init__(self, dims=(16, 32, 64, 128), blocks=(1, 2, 2, 2), strides=(1, 2, 2, 2),
                 attention_dim: int = 32, queries: int = QUERIES):
        super().__init__()
        self.conv1 = nn.Conv2d(3, dims[0], 7, 2, 3, bias=False)
        self.bn1 = FrozenBatchNorm(dims[0])
        channels = dims[0]
        for index, (dim, count, stride) in enumerate(zip(dims, blocks, strides), 1):
            layer = [ResidualBlock(channels, dim, stride)] + \
                [ResidualBlock(dim, dim, 1) for _ in range(count - 1)]
            setattr(self, f'layer{index}', nn.Sequential(*layer))
            channels = dim
        self.query_embed = nn.Embedding(queries, attention_dim)
        self.input_proj = nn.Conv2d(channels, attention_dim, 1)
        self.transformer = Transformer(attention_dim)
        self.class_embed = nn.Linear(attention_dim, 2)
        self.specific_embed = HeadMLP(attention_dim, 4)
        self.shared_embed = HeadMLP(attention_dim, 4)

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return lane logits (N, 7, 2) and curves (N, 7, 8) of normalised BGR images."""
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(images))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        features = self.input_proj(x)
        batch, dim, height, width = features.shape
        pos = sine_positions(height, width, dim, features.device)
        pos = pos.flatten(1).permute(1, 0)[:, None, :].expand(-1, batch, -1)
        memory = self.transformer.encoder(features.flatten(2).permute(2, 0, 1), pos)
        query_pos = self.query_embed.weight[:, None, :].expand(-1, batch, -1)
        hidden = self.transformer.decoder(torch.zeros_like(query_pos), memory, pos, query_pos)
        hidden = hidden.transpose(0, 1)  # (N, queries, dim)
        specific = self.specific_embed(hidden)
        shared = self.shared_embed(hidden).mean(dim=1, keepdim=True).expand_as(specific)
        curves = torch.cat((specific[..., :2], shared, specific[..., 2:]), dim=-1)
        return self.class_embed(hidden), curves


def load_lstr(path: Path) -> LSTR:
    """Load the authors' checkpoint (``module.`` prefix, thop counters dropped), strictly."""
    state = torch.load(str(path), map_location='cpu', weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f'{path} holds a {type(state).__name__}, not a state dict')
    cleaned = {key[len('module.'):] if key.startswith('module.') else key: value
               for key, value in state.items()
               if not key.endswith(('total_ops', 'total_params'))}
    network = LSTR()
    network.load_state_dict(cleaned, strict=True)
    return network.eval()
