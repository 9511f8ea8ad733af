"""Segment the camera topics of a rosbag2 offline (no DDS) and write a bag of the results.

Runs the node's pipeline (backend and tracker from the parameter file) on every Image or
CompressedImage topic of IN_BAG (or those of --topics) and writes, per camera, every output topic
of the contract under <camera namespace>/segmentation/: semantic, instances, detections,
markers, overlay, and label_info once. Each output copies the input's header and is written at
the input's bag time. A frame that cannot be read is skipped with a warning; a damaged bag
(broken metadata, a truncated or corrupt storage file) ends the run with one line naming it and
exit code 1. OUT_BAG is written under a temporary name and renamed when complete; a progress bar
shows frames, frames/s and the ETA.
"""

import argparse
import os
from pathlib import Path
import shutil
import sys
from typing import Callable, Optional

from tqdm import tqdm

from seg_perception.ros import bag_io
from seg_perception.tools.harness import add_settings_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception process``."""
    parser.add_argument('in_bag', type=Path, help='input rosbag2 folder (sqlite3 or mcap)')
    parser.add_argument('out_bag', type=Path, help='rosbag2 folder to create')
    add_settings_arguments(parser)
    parser.add_argument('--topics', nargs='+', default=None, metavar='TOPIC',
                        help='camera topics to process (default: every image topic)')
    parser.add_argument('--include-inputs', action='store_true',
                        help='copy the processed camera topics (and their camera_info) into '
                             'OUT_BAG')
    parser.add_argument('--storage', default=None, choices=bag_io.STORAGES,
                        help='storage of OUT_BAG (default: that of IN_BAG)')
    parser.add_argument('--limit', type=int, default=0, help='stop after N frames (0 = all)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_BAG if it exists')


def load_settings(params_file: Path, weights_dir: str = ''):
    """Return the node settings of a parameter file (``weights_dir`` overrides the file's)."""
    from seg_perception.settings_file import read_file_settings

    return read_file_settings(params_file, {'weights_dir': weights_dir} if weights_dir else None)


def pipeline_from_file(params_file: Path, weights_dir: str = ''):
    """Return (pipeline, node settings) of a parameter file, built as the node builds them."""
    from seg_perception.build import build_pipeline

    settings = load_settings(params_file, weights_dir)
    return build_pipeline(settings), settings


def partial_path(out_bag: Path) -> Path:
    """Return where a result bag is written before it is complete.

    ``OUT_PARENT/.NAME.partial/NAME``: the bag folder keeps its name (and its storage file
    ``NAME.db3`` / ``NAME_0.mcap``), so renaming it to ``out_bag`` leaves a normal bag.
    """
    out_bag = Path(out_bag)
    return out_bag.parent / f'.{out_bag.name}.partial' / out_bag.name


def process_one_bag(in_bag: Path, out_bag: Path, pipeline, settings, topics=None,
                    include_inputs: bool = False, storage: Optional[str] = None,
                    limit: int = 0, overwrite: bool = False,
                    progress: Optional[Callable[[int, int, float], None]] = None,
                    warn: Optional[Callable[[str], None]] = None):
    """Segment one bag into ``out_bag``: the per-bag work of ``process`` and ``fleet``.

    The result is written to ``partial_path(out_bag)`` and renamed to ``out_bag`` only when
    complete, so an interrupted run never leaves a bag that looks finished. Arguments are those
    of ``ros.bag_processing.process_bag``; ``settings`` supplies the overlay alpha and the 3D
    lifting.

    Returns:
        the ``ProcessStats`` of the run.

    Raises:
        BagError: ``out_bag`` exists and ``overwrite`` is False, or ``process_bag``'s errors.
        BagReadError: the input bag is damaged (nothing is left at ``out_bag``).

    """
    from seg_perception.ros.bag_processing import process_bag

    out_bag = Path(out_bag)
    if out_bag.exists() and not overwrite:
        raise bag_io.BagError(f'output bag {out_bag} already exists (use --overwrite to replace '
                              'it)')
    partial = partial_path(out_bag)
    if partial.parent.exists():
        shutil.rmtree(partial.parent)
    created = next((p for p in reversed(out_bag.parents) if not p.exists()), None)
    partial.parent.mkdir(parents=True)
    try:
        stats = process_bag(in_bag, partial, pipeline, topics, include_inputs,
                            storage or bag_io.bag_storage(in_bag), settings.overlay_alpha, limit,
                            progress=progress, warn=warn, settings=settings)
        if out_bag.exists():
            shutil.rmtree(out_bag)
        os.replace(partial, out_bag)
    except BaseException:
        if created is not None and not any(p.is_file() for p in created.rglob('*')):
            shutil.rmtree(created, ignore_errors=True)  # only the empty folders made here
        raise
    finally:
        shutil.rmtree(partial.parent, ignore_errors=True)
    return stats


class FrameProgressBar:
    """A ``tqdm`` bar of frames (rate and ETA) fed by ``process_bag``'s progress callback."""

    def __init__(self, description: str):
        self._description = description
        self._bar = None

    def __call__(self, done: int, total: int, fps: float) -> None:
        """Advance the bar to ``done`` of ``total`` frames."""
        if self._bar is None:
            self._bar = tqdm(total=total, desc=self._description, unit='frame',
                             file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
        self._bar.update(done - self._bar.n)

    def write(self, text: str) -> None:
        """Print a line above the bar (warnings) without breaking it."""
        tqdm.write(text, file=sys.stderr)

    def close(self) -> None:
        """Close the bar (the final state stays on screen)."""
        if self._bar is not None:
            self._bar.close()


def run(args: argparse.Namespace) -> int:
    """Run ``seg-perception process``."""
    from seg_perception.build import build_pipeline, build_segmenter

    with bag_io.open_reader(args.in_bag):  # a missing or damaged bag fails before the model loads
        pass
    settings = load_settings(args.params_file, args.weights_dir)
    segmenter = build_segmenter(settings)
    bar = FrameProgressBar(args.in_bag.name)
    try:
        stats = process_one_bag(
            args.in_bag, args.out_bag, build_pipeline(settings, segmenter), settings,
            args.topics, args.include_inputs, args.storage, args.limit, args.overwrite,
            progress=bar, warn=lambda text: bar.write(f'warning: {text}'))
    finally:
        bar.close()
        segmenter.release()
    print(f'{stats.frames} frames in {stats.seconds:.1f} s ({stats.fps:.2f} frames/s), '
          f'{stats.skipped} skipped; wrote {args.out_bag}')
    for topic, count in sorted(stats.written.items()):
        print(f'  {topic}: {count}')
    return 0 if stats.frames else 1
