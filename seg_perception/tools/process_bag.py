"""Segment the camera topics of a rosbag2 offline (no DDS) and write a bag of the results.

Runs the node's pipeline (backend and tracker from the parameter file) on every Image or
CompressedImage topic of IN_BAG (or those of --topics) and writes, per camera, every output topic
of the contract under <camera namespace>/segmentation/: semantic, instances, detections,
markers, overlay, and label_info once. Each output copies the input's header and is written at
the input's bag time. A frame that cannot be read is skipped with a warning.
"""

import argparse
from pathlib import Path
import sys

from seg_perception.tools import bag_io, paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception process``."""
    default_weights = paths.default_weights_dirs()
    parser.add_argument('in_bag', type=Path, help='input rosbag2 folder (sqlite3 or mcap)')
    parser.add_argument('out_bag', type=Path, help='rosbag2 folder to create')
    parser.add_argument('--params-file', type=Path, default=paths.default_config(),
                        help='node parameter file (default: config/default.yaml)')
    parser.add_argument('--weights-dir', default=default_weights,
                        help='folder holding the checkpoint; overrides weights_dir of the file '
                             f'(default: {default_weights})')
    parser.add_argument('--topics', nargs='+', default=None, metavar='TOPIC',
                        help='camera topics to process (default: every image topic)')
    parser.add_argument('--include-inputs', action='store_true',
                        help='copy the processed camera topics (and their camera_info) into '
                             'OUT_BAG')
    parser.add_argument('--storage', default=None, choices=bag_io.STORAGES,
                        help='storage of OUT_BAG (default: that of IN_BAG)')
    parser.add_argument('--limit', type=int, default=0, help='stop after N frames (0 = all)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_BAG if it exists')


def build_pipeline(params_file: Path, weights_dir: str = ''):
    """Return (pipeline, node settings) built from a parameter file as the node builds them."""
    from seg_perception.backends.registry import create_backend
    from seg_perception.pipeline import Pipeline
    from seg_perception.ros.params_file import read_file_settings
    from seg_perception.tracking import Tracker

    settings = read_file_settings(params_file,
                                  {'weights_dir': weights_dir} if weights_dir else None)
    segmenter = create_backend(settings.backend, settings.backend_options)
    config = settings.tracker
    return Pipeline(segmenter, lambda: Tracker(config)), settings


def _progress(done: int, total: int, fps: float) -> None:
    print(f'\r{done}/{total} frames, {fps:.2f} frames/s', end='', file=sys.stderr, flush=True)


def _warn(text: str) -> None:
    print(f'\nwarning: {text}', file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run ``seg-perception process``."""
    from seg_perception.ros.bag_processing import process_bag

    bag_io.open_reader(args.in_bag)  # a missing bag is an error before the model loads
    pipeline, settings = build_pipeline(args.params_file, args.weights_dir)
    try:
        stats = process_bag(
            args.in_bag, args.out_bag, pipeline, args.topics, args.include_inputs,
            args.storage, settings.overlay_alpha, args.limit, args.overwrite,
            progress=_progress, warn=_warn)
    finally:
        pipeline.segmenter.release()
    print(file=sys.stderr)
    print(f'{stats.frames} frames in {stats.seconds:.1f} s ({stats.fps:.2f} frames/s), '
          f'{stats.skipped} skipped; wrote {args.out_bag}')
    for topic, count in sorted(stats.written.items()):
        print(f'  {topic}: {count}')
    return 0 if stats.frames else 1
