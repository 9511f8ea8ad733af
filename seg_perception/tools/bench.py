"""``seg-perception bench``: the benchmark table (node overhead beside the network's own time)."""

import argparse
import json
import os
import platform

import cv2
import numpy as np

from seg_perception.tools import paths
from seg_perception.tools.image_source import read_rgb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception bench``."""
    default_weights = paths.sample_path('weights', 'espnetv2_edgenets')
    parser.add_argument('--weights-dir', default=str(default_weights or ''),
                        help=f'folder holding the checkpoint (default: {default_weights})')
    parser.add_argument('--device', default='cpu', help='auto, cpu, cuda or cuda:N')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per stage')
    parser.add_argument('--backends', nargs='*', metavar='NAME', default=None,
                        help='instead: time the model backends with random weights at '
                        '--backend-size (default: torchvision transformers detectron2)')
    parser.add_argument('--backend-size', default='1024x512', metavar='WxH',
                        help='input size of --backends (default 1024x512)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def _sample_frame(width: int, height: int) -> np.ndarray:
    """Return a real street image resized to width x height when sample data exists, else noise."""
    source = paths.sample_path('cityscapes_samples', 'espnet_test_images',
                               'frankfurt_000000_000294_leftImg8bit.png')
    if source is not None:
        return cv2.resize(read_rgb(source), (width, height), interpolation=cv2.INTER_AREA)
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def machine_description() -> str:
    """One line naming the CPU and core count."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as stream:
            for line in stream:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'{cpu}, {os.cpu_count()} cores'


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks and print the table; return the exit code."""
    if args.backends is not None:
        from seg_perception.tools.bench_backends import BENCH_BACKENDS, run_backends
        width, height = (int(v) for v in args.backend_size.lower().split('x'))
        return run_backends(args.backends or BENCH_BACKENDS, _sample_frame(width, height),
                            args.device, args.repeats, args.json)
    import torch

    from seg_perception.backends.base import BackendOptions
    from seg_perception.backends.espnetv2 import ESPNetv2Backend
    from seg_perception.ros.benchmark import node_overhead

    backend = ESPNetv2Backend(BackendOptions(
        weights_dirs=(args.weights_dir,) if args.weights_dir else (), device=args.device))
    rgb = _sample_frame(1920, 1080)
    timings = node_overhead(backend, rgb, args.repeats)
    print(f'machine: {machine_description()}; torch {torch.__version__} on {backend.device}, '
          f'{torch.get_num_threads()} threads')
    print('node per-frame stages, 1920x1080 rgb8 input, ESPNetv2 s=2.0 at 1024x512 '
          f'(median of {args.repeats}):')
    for name, value in timings.items():
        print(f'  {name:<22} {value:9.2f} ms')
    if args.json:
        print(json.dumps({'machine': machine_description(), 'device': str(backend.device),
                          'node_1080p_ms': timings}))
    return 0
