"""Per-backend CPU benchmark rows of ``seg-perception bench --backends``.

For each backend (random weights, so no checkpoint is needed): latency of one frame through
``Segmenter.segment`` at the network input size, the bare model forward on an already
prepared batch, the wrapper's overhead over it (resize, normalisation, post-processing, fusion),
and the batch speed-up (per-frame time of a batch of 1 over that of a batch of 2 and 4).
"""

import json
import tempfile
import time
from typing import Callable, Dict, List, Sequence

import numpy as np

from seg_perception.backends.base import BackendOptions

#: Backends benchmarked by default, with random weights.
BENCH_BACKENDS = ('torchvision', 'transformers', 'detectron2')


def _options(name: str, width: int, height: int, device: str, workdir: str) -> BackendOptions:
    extra = {'random_init': 'true'}
    if name == 'transformers':
        import transformers
        # Mask2Former's default config: Swin backbone (embed 96, depths 2-2-6-2 = Swin-T), 100
        # queries, 6 encoder / 10 decoder layers; random weights, Cityscapes label names.
        config = transformers.Mask2FormerConfig(
            backbone_config=transformers.SwinConfig(
                embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                out_features=['stage1', 'stage2', 'stage3', 'stage4']),
            use_pretrained_backbone=False,
            id2label={i: n.replace('_', ' ') for i, n in enumerate(
                ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic_light',
                 'traffic_sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
                 'truck', 'bus', 'train', 'motorcycle', 'bicycle'))})
        path = f'{workdir}/mask2former_swin_t.json'
        config.to_json_file(path)
        extra = {'config_json': path}
    elif name == 'detectron2':
        extra['config_file'] = 'COCO-PanopticSegmentation/panoptic_fpn_R_50_1x.yaml'
    return BackendOptions(device=device, input_width=width, input_height=height, extra=extra)


def _seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_backend(name: str, frame: np.ndarray, device: str = 'cpu', repeats: int = 1,
                  batch_sizes: Sequence[int] = (2, 4)) -> Dict[str, float]:
    """Time one backend on ``frame`` (H, W, 3) uint8 RGB, already at the input size.

    Returns:
        ``segment_ms`` (one frame, whole wrapper), ``forward_ms`` (bare model forward of one
        prepared frame), ``overhead_pct`` (100 * (segment - forward) / forward) and
        ``speedup_bN`` (per-frame time at batch 1 / per-frame time at batch N).

    """
    import torch

    from seg_perception.backends.registry import create_backend

    height, width = frame.shape[:2]
    with tempfile.TemporaryDirectory() as workdir:
        backend = create_backend(name, _options(name, width, height, device, workdir))
    torch.manual_seed(0)
    prepared = backend.preprocess([frame])
    backend.segment([frame])  # warm-up
    # Alternate the two so that load changes on a shared machine hit both alike.
    forward, segment = [], []
    for _ in range(repeats):
        forward.append(_seconds(lambda: backend.forward(prepared), 1))
        segment.append(_seconds(lambda: backend.segment([frame]), 1))
    forward_s, segment_s = float(np.median(forward)), float(np.median(segment))
    row = {'segment_ms': segment_s * 1000.0, 'forward_ms': forward_s * 1000.0,
           'overhead_pct': 100.0 * (segment_s - forward_s) / forward_s}
    for size in batch_sizes:
        batch_s = _seconds(lambda: backend.segment([frame] * size), repeats)
        row[f'speedup_b{size}'] = segment_s / (batch_s / size)
    backend.release()
    return row


def run_backends(names: Sequence[str], frame: np.ndarray, device: str, repeats: int,
                 as_json: bool) -> int:
    """Print one row per backend; with ``as_json`` end with a JSON object of all rows."""
    height, width = frame.shape[:2]
    print(f'backends at {width}x{height}, random weights, {device} (median of {repeats}):')
    print(f'  {"backend":<13} {"segment ms":>11} {"forward ms":>11} {"overhead":>9} '
          f'{"batch 2":>8} {"batch 4":>8}')
    rows: Dict[str, Dict[str, float]] = {}
    failed: List[str] = []
    for name in names:
        try:
            row = bench_backend(name, frame, device, repeats)
        except Exception as error:  # a missing optional dependency must not stop the others
            print(f'  {name:<13} skipped: {error}')
            failed.append(name)
            continue
        rows[name] = row
        print(f'  {name:<13} {row["segment_ms"]:11.0f} {row["forward_ms"]:11.0f} '
              f'{row["overhead_pct"]:8.1f}% {row["speedup_b2"]:7.2f}x {row["speedup_b4"]:7.2f}x',
              flush=True)
    if as_json:
        print(json.dumps({'backends': rows, 'skipped': failed, 'size': [width, height]}))
    return 0
