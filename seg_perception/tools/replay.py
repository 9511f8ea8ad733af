"""``seg-perception replay``: publish a bag's camera topics into the ROS graph.

With the recorded timing (scaled by ``--rate``) or in lock-step (``--lockstep``: each frame waits
for the node's ``semantic`` output of its stamp, so none is dropped). Topics keep their recorded
names unless remapped with ``--remap FROM:=TO``; ``--loop N`` plays the bag N times.
"""

import argparse
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception replay``."""
    parser.add_argument('bag', type=Path, help='rosbag2 folder (sqlite3 or mcap)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--rate', type=float, default=1.0,
                      help='playback speed factor of the recorded timing (default 1.0)')
    mode.add_argument('--lockstep', action='store_true',
                      help="wait for the node's output of each frame before the next")
    parser.add_argument('--loop', type=int, default=1, help='times to play the bag')
    parser.add_argument('--remap', nargs='+', default=[], metavar='FROM:=TO',
                        help='publish topic FROM on TO')
    parser.add_argument('--topics', nargs='+', default=None,
                        help='camera topics to play (default: every image topic)')
    parser.add_argument('--timeout', type=float, default=60.0,
                        help='lock-step: seconds to wait for a frame before one resend')


def run(args: argparse.Namespace) -> int:
    """Run ``replay``; return the exit code (1 when lock-step frames went unanswered)."""
    from seg_perception.ros.driver import ros_context
    from seg_perception.ros.replay import parse_remaps, replay_bag

    def report(topic: str, stamp_ns: int, latency_ms) -> None:
        latency = f'latency {latency_ms:7.1f} ms' if latency_ms is not None else ''
        print(f'{topic} stamp {stamp_ns} {latency}'.rstrip(), flush=True)

    with ros_context():
        stats = replay_bag(args.bag, rate=args.rate, lockstep=args.lockstep, loop=args.loop,
                           remaps=parse_remaps(args.remap), topics=args.topics,
                           timeout_s=args.timeout, on_frame=report)
    print('published: ' + ', '.join(f'{t} {n}' for t, n in stats.published.items()))
    if args.lockstep:
        latencies = np.array(stats.latencies_ms) if stats.latencies_ms else np.zeros(1)
        print(f'lock-step: {stats.answered} answered, {stats.unanswered} unanswered; latency '
              f'median {np.median(latencies):.1f} ms')
    return 1 if stats.unanswered else 0
