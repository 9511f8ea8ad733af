"""``seg-perception drive``: run the node on a recorded drive through the ROS graph.

Starts ``seg_perception_node`` as its own process with a parameter file, publishes the frames
of an image folder or video as a camera topic in lock-step with the node's outputs, writes the
overlay and semantic images, and prints the end-to-end latency of every frame.
"""

import argparse
from pathlib import Path
import sys
import time
from typing import List, Sequence

import cv2
import numpy as np

from seg_perception import paths
from seg_perception.tools.harness import add_settings_arguments, node_and_driver, node_command
from seg_perception.tools.image_source import iter_frames


def _drive_frames(args: argparse.Namespace, driver, overlay_dir: Path, semantic_dir: Path,
                  quiet: bool) -> List[float]:
    """Send every frame in lock-step, save its overlay and semantic PNGs; return latencies, ms."""
    from seg_perception.ros.driver import (decode_output, make_camera_msg, ns_to_header,
                                           stamp_to_ns)

    latencies = []
    start_ns = time.time_ns()
    for index, (name, rgb) in enumerate(iter_frames(args.source, args.limit)):
        header = ns_to_header(start_ns + int(index * 1e9 / args.fps), args.frame_id)
        msg = make_camera_msg(rgb, header, args.encoding)
        outputs = driver.send_lockstep(msg, timeout_s=args.timeout)
        if outputs is None:
            print(f'frame {index} {name}: no output within {args.timeout} s', flush=True)
            continue
        latency_ms = 1000.0 * (outputs.received_s['semantic'] - outputs.sent_s)
        latencies.append(latency_ms)
        semantic = decode_output(outputs.messages['semantic'])
        overlay = decode_output(outputs.messages['overlay'])
        driver.forget(stamp_to_ns(msg.header.stamp))
        cv2.imwrite(str(semantic_dir / f'{name}.png'), semantic)
        cv2.imwrite(str(overlay_dir / f'{name}.png'), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        if not quiet:
            print(f'frame {index:4d} {name}: {rgb.shape[1]}x{rgb.shape[0]} '
                  f'latency {latency_ms:7.1f} ms', flush=True)
    return latencies


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception drive``."""
    default_source = paths.sample_path('camvid_samples', 'images')
    parser.add_argument('source', nargs='?', type=Path, default=default_source,
                        help=f'image folder or video file (default: {default_source})')
    parser.add_argument('--out', type=Path, default=Path('drive_out'),
                        help='output folder for overlay/ and semantic/ PNGs (default: drive_out)')
    add_settings_arguments(parser)
    parser.add_argument('--topic', default='/camera/image_raw', help='camera topic to publish')
    parser.add_argument('--frame-id', default='camera_optical_frame', help='header frame_id')
    parser.add_argument('--encoding', default='rgb8', choices=('rgb8', 'bgr8', 'mono8', 'jpeg'),
                        help='message encoding (jpeg publishes CompressedImage on '
                             'TOPIC/compressed)')
    parser.add_argument('--fps', type=float, default=10.0, help='frame rate of the stamps')
    parser.add_argument('--limit', type=int, default=0, help='stop after N frames (0 = all)')
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='seconds to wait for the outputs of one frame')
    parser.add_argument('--log-level', default='info',
                        choices=('debug', 'info', 'warn', 'error'),
                        help='log level of the node (debug logs its latency per frame); the '
                             'node log is OUT/node.log')


def drive_node(args: argparse.Namespace, out: Path, ros_args: Sequence[str] = (),
               quiet: bool = False) -> List[float]:
    """Start the node, feed it ``args.source`` in lock-step; return each frame's latency, ms.

    Args:
        args: ``drive``'s ``params_file``, ``weights_dir``, ``source``, ``limit``, ``topic``,
            ``encoding``, ``fps``, ``frame_id`` and ``timeout``.
        out: folder of ``overlay/`` and ``semantic/`` PNGs and the node's ``node.log``.
        ros_args: more ROS arguments of the node (``-p name:=value``, ``--log-level ...``).
        quiet: leave out the line per frame.

    Raises:
        RuntimeError: the node did not come up (the message names its log).

    """
    topic = args.topic.rstrip('/') + ('/compressed' if args.encoding == 'jpeg' else '')
    overlay_dir, semantic_dir = out / 'overlay', out / 'semantic'
    overlay_dir.mkdir(parents=True, exist_ok=True)
    semantic_dir.mkdir(parents=True, exist_ok=True)
    command = node_command(args.params_file, topic, args.weights_dir, list(ros_args))
    with node_and_driver(command, out / 'node.log', topic) as (_, driver):
        return _drive_frames(args, driver, overlay_dir, semantic_dir, quiet)


def run(args: argparse.Namespace) -> int:
    """Run ``drive``; return the exit code."""
    if args.source is None:
        print('no source given and no sample data found: pass an image folder or video',
              file=sys.stderr)
        return 2
    try:
        latencies = drive_node(args, args.out,
                               ['--log-level', f'seg_perception:={args.log_level}'])
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    if latencies:
        values = np.array(latencies)
        print(f'{len(values)} frames: latency mean {values.mean():.1f} ms, median '
              f'{np.median(values):.1f} ms, p90 {np.percentile(values, 90):.1f} ms; '
              f'overlays in {args.out / "overlay"}, semantic in {args.out / "semantic"}')
    return 0 if latencies else 1
