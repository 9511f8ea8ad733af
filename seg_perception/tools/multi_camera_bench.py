"""Throughput and memory of N cameras through one node beside N single-camera node processes.

Each camera publishes the same real frame at a fixed rate (faster than the model runs) for a
fixed time; a frame counts as served when its ``semantic`` output arrives. One node batches the
newest frame of every camera through one model; N processes hold N models and share the CPU.
"""

from dataclasses import dataclass
from pathlib import Path
import time
from typing import Dict, List

import numpy as np

from seg_perception.tools.harness import node_command, process_rss_mb, start_node, stop_node


@dataclass(frozen=True)
class MultiCameraResult:
    """One configuration's numbers.

    Attributes:
        cameras: number of cameras.
        processes: number of node processes (1 = all cameras in one node).
        served_fps: frames served per second, all cameras together.
        per_camera_fps: the least and the most served frames per second of one camera.
        rss_mb: the largest sum of the node processes' RSS seen, MiB.

    """

    cameras: int
    processes: int
    served_fps: float
    per_camera_fps: tuple
    rss_mb: float

    def as_dict(self) -> Dict:
        """JSON-ready form."""
        return {'cameras': self.cameras, 'processes': self.processes,
                'served_fps': self.served_fps, 'min_camera_fps': self.per_camera_fps[0],
                'max_camera_fps': self.per_camera_fps[1], 'rss_mb': self.rss_mb}


def measure(cameras: int, separate_processes: bool, rgb: np.ndarray, params_file: Path,
            weights_dir: str, log_dir: Path, duration_s: float = 30.0,
            rate_hz: float = 10.0) -> MultiCameraResult:
    """Run one configuration and return its throughput and memory.

    Raises:
        RuntimeError: a node did not come up (its log is in ``log_dir``).

    """
    from seg_perception.ros.driver import (make_camera_msg, NodeDriver, ns_to_header,
                                           ros_context, spin_in_background, stop_spinning)

    topics = [f'/mc{index}/camera/image_raw' for index in range(cameras)]
    if separate_processes:
        commands = [node_command(params_file, topic, weights_dir,
                                 ['-r', f'__node:=seg_perception_{index}'])
                    for index, topic in enumerate(topics)]
    else:
        commands = [node_command(params_file, topics, weights_dir)]
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = [start_node(command, log_dir / f'node_{cameras}_{index}.log')
                 for index, command in enumerate(commands)]
    try:
        with ros_context():
            drivers = [NodeDriver(topic, outputs=('semantic',), node_name=f'mc_driver_{index}')
                       for index, topic in enumerate(topics)]
            spinners = [spin_in_background(driver) for driver in drivers]
            try:
                for driver in drivers:
                    if not driver.wait_until_connected(300.0):
                        raise RuntimeError(f'a node did not come up; see {log_dir}')
                msg = make_camera_msg(rgb, ns_to_header(1, 'camera'))
                for driver in drivers:  # warm-up: each model runs once before timing
                    if driver.send_lockstep(msg, timeout_s=300.0) is None:
                        raise RuntimeError(f'no output in warm-up; see {log_dir}')
                    driver.forget(1)
                sent: List[List] = [[] for _ in drivers]
                rss_peak = 0.0
                start = time.monotonic()
                next_send, next_rss = start, start
                while time.monotonic() - start < duration_s:
                    now = time.monotonic()
                    if now >= next_send:
                        msg.header = ns_to_header(time.time_ns(), 'camera')
                        for index, driver in enumerate(drivers):
                            sent[index].append(driver.send(msg))
                        next_send += 1.0 / rate_hz
                    if now >= next_rss:
                        rss_peak = max(rss_peak, sum(process_rss_mb(p.pid) for p in processes))
                        next_rss += 1.0
                    time.sleep(max(0.0, min(next_send, next_rss) - time.monotonic()))
                time.sleep(min(10.0, duration_s / 3))  # let the last frames in flight arrive
                served = [sum(1 for outputs in frames if 'semantic' in outputs.received_s)
                          for frames in sent]
            finally:
                for spinner in spinners:
                    stop_spinning(spinner)
                for driver in drivers:
                    driver.destroy_node()
    finally:
        for process in processes:
            stop_node(process)
    per_camera = [count / duration_s for count in served]
    return MultiCameraResult(cameras=cameras, processes=len(processes),
                             served_fps=sum(per_camera),
                             per_camera_fps=(min(per_camera), max(per_camera)),
                             rss_mb=rss_peak)
