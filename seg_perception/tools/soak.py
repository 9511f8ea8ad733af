"""``seg-perception soak``: publish a camera at a fixed rate into the node for minutes.

Starts ``seg_perception_node`` as its own process (default config: ESPNetv2 on the CPU, far
slower than the camera), publishes one real frame with fresh stamps at RATE Hz for DURATION
seconds, and prints, for the first and the last WINDOW seconds: the node's resident memory
(VmRSS from /proc), the publish-to-``semantic`` latency of the frames it processed, and how many
frames it answered. With latest-frame-only processing neither memory nor latency may grow.
Not part of the test suite (it runs for minutes); its numbers are in the README.
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path
import sys
import time
from typing import Dict, List, Optional

import numpy as np

from seg_perception.tools import paths
from seg_perception.tools.bench import sample_frame
from seg_perception.tools.drive import node_and_driver, node_command


def process_rss_mb(pid: int) -> float:
    """Return the resident set size of process ``pid`` in MiB (Linux /proc).

    Raises:
        OSError: the process does not exist or /proc is unavailable.

    """
    with open(f'/proc/{pid}/status') as stream:
        for line in stream:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    raise OSError(f'no VmRSS for process {pid}')


@dataclass
class SoakWindow:
    """What was seen during one stretch of the soak.

    Attributes:
        start_s: seconds since the soak began.
        sent: frames published.
        answered: of those, frames whose ``semantic`` arrived.
        latencies_ms: publish-to-receipt latency of each answered frame.
        rss_mb: node RSS samples, MiB.

    """

    start_s: float
    sent: int = 0
    answered: int = 0
    latencies_ms: List[float] = field(default_factory=list)
    rss_mb: List[float] = field(default_factory=list)

    def summary(self) -> Dict[str, float]:
        """Sent, answered, latency median / p90 / max (ms) and RSS first / last / max (MiB)."""
        latencies = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        rss = np.array(self.rss_mb) if self.rss_mb else np.array([np.nan])
        return {'start_s': self.start_s, 'sent': float(self.sent),
                'answered': float(self.answered),
                'latency_median_ms': float(np.median(latencies)),
                'latency_p90_ms': float(np.percentile(latencies, 90)),
                'latency_max_ms': float(np.max(latencies)),
                'rss_first_mb': float(rss[0]), 'rss_last_mb': float(rss[-1]),
                'rss_max_mb': float(np.max(rss))}


def soak(driver, pid: int, rgb: np.ndarray, rate_hz: float, duration_s: float,
         window_s: float, answer_timeout_s: float = 30.0) -> List[SoakWindow]:
    """Publish ``rgb`` at ``rate_hz`` for ``duration_s``; return the first and last windows.

    Frames are stamped with the wall clock; a frame not answered ``answer_timeout_s`` after it
    was sent counts as dropped (the node keeps only the newest frame) and is forgotten.
    """
    from seg_perception.ros.driver import make_camera_msg, ns_to_header

    msg = make_camera_msg(rgb, ns_to_header(0, 'camera_optical_frame'))
    first, last = SoakWindow(0.0), SoakWindow(max(0.0, duration_s - window_s))
    pending: Dict[int, tuple] = {}
    start = time.monotonic()
    next_send = start
    next_rss = start
    rss_period_s = min(1.0, window_s / 4.0)
    while True:
        now = time.monotonic()
        elapsed = now - start
        if elapsed >= duration_s + min(answer_timeout_s, 10.0):
            break
        windows = [w for w in (first, last) if w.start_s <= elapsed < w.start_s + window_s]
        if now >= next_rss:
            rss = process_rss_mb(pid)
            for window in windows:
                window.rss_mb.append(rss)
            next_rss += rss_period_s
        if elapsed < duration_s and now >= next_send:
            stamp_ns = time.time_ns()
            msg.header = ns_to_header(stamp_ns, 'camera_optical_frame')
            pending[stamp_ns] = (driver.send(msg), [w for w in windows])
            for window in windows:
                window.sent += 1
            next_send += 1.0 / rate_hz
        for stamp_ns, (outputs, sent_in) in list(pending.items()):
            received = outputs.received_s.get('semantic')
            if received is not None:
                for window in sent_in:
                    window.answered += 1
                    window.latencies_ms.append(1000.0 * (received - outputs.sent_s))
            elif now - outputs.sent_s < answer_timeout_s:
                continue
            driver.forget(stamp_ns)
            del pending[stamp_ns]
        time.sleep(max(0.0, min(next_send, next_rss) - time.monotonic()) if elapsed < duration_s
                   else 0.05)
    for stamp_ns in pending:  # still unanswered at the end: dropped
        driver.forget(stamp_ns)
    return [first, last]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception soak``."""
    default_weights = paths.default_weights_dirs()
    parser.add_argument('--duration', type=float, default=300.0, help='seconds to publish')
    parser.add_argument('--rate', type=float, default=30.0, help='camera rate, Hz')
    parser.add_argument('--window', type=float, default=60.0,
                        help='seconds at the start and at the end that are summarised')
    parser.add_argument('--width', type=int, default=1280, help='image width, pixels')
    parser.add_argument('--height', type=int, default=720, help='image height, pixels')
    parser.add_argument('--params-file', type=Path, default=paths.default_config(),
                        help='node parameter file (default: config/default.yaml)')
    parser.add_argument('--weights-dir', default=default_weights,
                        help=f'folder holding the checkpoint (default: {default_weights})')
    parser.add_argument('--out', type=Path, default=Path('soak_out'),
                        help='folder for the node log (default: soak_out)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def _print_window(name: str, summary: Dict[str, float]) -> None:
    print(f'{name:<6} sent {int(summary["sent"]):5d}, answered {int(summary["answered"]):4d}; '
          f'latency median {summary["latency_median_ms"]:7.1f} ms, p90 '
          f'{summary["latency_p90_ms"]:7.1f} ms, max {summary["latency_max_ms"]:7.1f} ms; '
          f'node RSS {summary["rss_first_mb"]:.0f} -> {summary["rss_last_mb"]:.0f} MiB '
          f'(max {summary["rss_max_mb"]:.0f})')


def run(args: argparse.Namespace) -> int:
    """Run ``soak``; return the exit code."""
    import json

    if args.duration <= 0 or args.rate <= 0 or args.window <= 0:
        raise ValueError('--duration, --rate and --window must be positive')
    if args.width <= 0 or args.height <= 0:
        raise ValueError(f'image size {args.width}x{args.height} must be positive')
    args.out.mkdir(parents=True, exist_ok=True)
    topic = '/soak/camera/image_raw'
    command = node_command(args.params_file, topic, args.weights_dir)
    rgb = sample_frame(args.width, args.height)
    windows: Optional[List[SoakWindow]] = None
    try:
        with node_and_driver(command, args.out / 'node.log', topic,
                             outputs=('semantic',)) as (process, driver):
            print(f'publishing {args.width}x{args.height} rgb8 at {args.rate:g} Hz for '
                  f'{args.duration:g} s', flush=True)
            windows = soak(driver, process.pid, rgb, args.rate, args.duration, args.window)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    summaries = {'start': windows[0].summary(), 'end': windows[1].summary()}
    for name, summary in summaries.items():
        _print_window(name, summary)
    if args.json:
        print(json.dumps({'rate_hz': args.rate, 'duration_s': args.duration,
                          'width': args.width, 'height': args.height, **summaries}))
    return 0
