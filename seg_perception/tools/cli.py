"""``seg-perception``: the command-line tools, one sub-command each."""

import argparse
import sys
from typing import List, Optional

from seg_perception.ros import bag_io
from seg_perception.tools import (bench, box_eval, drive, fleet, lane_eval, lifting_eval, make_bag,
                                  panoptic_eval, process_bag, render, replay, semantic_eval, soak,
                                  tracking_eval)


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
    semantic_parser = evaluations.add_parser(
        'semantic', help='mIoU per class of semantic PNGs', description=semantic_eval.__doc__)
    semantic_eval.add_arguments(semantic_parser)
    semantic_parser.set_defaults(handler=semantic_eval.run)
    panoptic_parser = evaluations.add_parser(
        'panoptic', help='PQ / SQ / RQ against Cityscapes instanceIds ground truth',
        description=panoptic_eval.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    panoptic_eval.add_arguments(panoptic_parser)
    panoptic_parser.set_defaults(handler=panoptic_eval.run)
    tracking_parser = evaluations.add_parser(
        'tracking', help='our tracker beside peer trackers on noisy ground-truth detections',
        description=tracking_eval.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    tracking_eval.add_arguments(tracking_parser)
    tracking_parser.set_defaults(handler=tracking_eval.run)
    # Tracker settings chosen by cross-validation over sequences (issue 15).
    from seg_perception.tools.tracking_eval import settings_selection
    select_parser = evaluations.add_parser(
        'tracking-select', help='choose tracker settings by leave-one-out over sequences',
        description=settings_selection.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    settings_selection.add_arguments(select_parser)
    select_parser.set_defaults(handler=settings_selection.run)
    lifting_parser = evaluations.add_parser(
        'lifting', help='3D distance error of lifted boxes against KITTI 3D labels',
        description=lifting_eval.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    lifting_eval.add_arguments(lifting_parser)
    lifting_parser.set_defaults(handler=lifting_eval.run)
    lanes_parser = evaluations.add_parser(
        'lanes', help='TuSimple accuracy / CULane F1 of the lane lines, lane-id stability',
        description=lane_eval.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    lane_eval.add_arguments(lanes_parser)
    lanes_parser.set_defaults(handler=lane_eval.run)
    boxes_parser = evaluations.add_parser(
        'boxes', help='2D recall / precision of instance boxes against KITTI label_2',
        description=box_eval.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    box_eval.add_arguments(boxes_parser)
    boxes_parser.set_defaults(handler=box_eval.run)

    for name, module, text in (
            ('make-bag', make_bag, 'image folder or video -> rosbag2 of camera images'),
            ('process', process_bag, 'segment a bag offline (no DDS) into a bag of results'),
            ('fleet', fleet, 'segment every bag under a folder on a Ray cluster (resumable)'),
            ('render', render, 'overlay video or PNG sequence of a result bag'),
            ('replay', replay, "publish a bag's camera topics into the ROS graph"),
            ('soak', soak, 'publish a fast camera into the node for minutes; RSS and latency')):
        sub_parser = commands.add_parser(
            name, help=text, description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(handler=module.run)

    bench_parser = commands.add_parser('bench', help='print the benchmark table',
                                       description=bench.__doc__)
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(handler=bench.run)
    return parser


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
