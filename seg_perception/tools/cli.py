"""``seg-perception``: the command-line tools, one sub-command each."""

import argparse
import sys
from typing import List, Optional

from seg_perception.ros import bag_io
from seg_perception.tools import (bench, box_eval, drive, fleet, lane_eval, lifting_eval, make_bag,
                                  panoptic_eval, process_bag, render, replay, semantic_eval, soak,
                                  tracking_eval)
from seg_perception.tools.tracking_eval import settings_selection


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog='seg-perception', description='Tools of the seg_perception ROS 2 package.')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    drive_parser = commands.add_parser(
        'drive', help='run the node on an image folder or video through the ROS graph',
        description=drive.__doc__)
    drive.add_arguments(drive_parser)
    drive_parser.set_defaults(handler=drive.run)

    evaluate_parser = commands.add_parser('evaluate', help='score results against ground truth')
    evaluations = evaluate_parser.add_subparsers(dest='evaluation', required=True,
                                                 metavar='KIND')
    for name, module, text in (
            ('semantic', semantic_eval, 'mIoU per class of semantic PNGs'),
            ('panoptic', panoptic_eval,
             'PQ / SQ / RQ against Cityscapes instanceIds ground truth'),
            ('tracking', tracking_eval,
             'our tracker beside peer trackers on noisy ground-truth detections'),
            ('tracking-select', settings_selection,
             'choose tracker settings by leave-one-out over sequences'),
            ('lifting', lifting_eval, '3D distance error of lifted boxes against KITTI 3D labels'),
            ('lanes', lane_eval,
             'TuSimple accuracy / CULane F1 of the lane lines, lane-id stability'),
            ('boxes', box_eval, '2D recall / precision of instance boxes against KITTI label_2')):
        _add_command(evaluations, name, module, text)

    for name, module, text in (
            ('make-bag', make_bag, 'image folder or video -> rosbag2 of camera images'),
            ('process', process_bag, 'segment a bag offline (no DDS) into a bag of results'),
            ('fleet', fleet, 'segment every bag under a folder on a Ray cluster (resumable)'),
            ('render', render, 'overlay video or PNG sequence of a result bag'),
            ('replay', replay, "publish a bag's camera topics into the ROS graph"),
            ('soak', soak, 'publish a fast camera into the node for minutes; RSS and latency')):
        _add_command(commands, name, module, text)

    bench_parser = commands.add_parser('bench', help='print the benchmark table',
                                       description=bench.__doc__)
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(handler=bench.run)
    return parser


def _add_command(subparsers, name: str, module, text: str) -> None:
    """Register ``module`` (its ``add_arguments`` and ``run``) as sub-command ``name``."""
    sub_parser = subparsers.add_parser(
        name, help=text, description=module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(sub_parser)
    sub_parser.set_defaults(handler=module.run)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``seg-perception``."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except bag_io.BagReadError as error:  # a damaged input: one line, exit 1 (not a usage error)
        print(f'seg-perception {args.command}: error: {error}', file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as error:
        print(f'seg-perception {args.command}: error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
