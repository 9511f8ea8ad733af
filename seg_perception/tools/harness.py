"""Shared helpers of the command-line tools: the node as a process, sample frames, machine facts.

The commands (drive, soak, bench, multi-camera bench) use each other's helpers only through this
module, so that no command imports another.
"""

import argparse
import contextlib
import os
from pathlib import Path
import platform
import shutil
import signal
import subprocess
import sys
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

from seg_perception import paths
from seg_perception.tools.image_source import read_rgb


def default_weights_dirs() -> str:
    """Return every folder of the sample data's ``weights/``, ':'-separated ('' without data).

    The backends look for their checkpoint files by name in each folder, so one value serves
    every configuration (ESPNetv2, TwinLiteNet, YOLOX, ...).
    """
    root = paths.sample_path('weights')
    if root is None:
        return ''
    return ':'.join(str(folder) for folder in sorted(root.iterdir()) if folder.is_dir())


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--params-file`` and ``--weights-dir``: how every command gets the node's settings."""
    parser.add_argument('--params-file', type=Path, default=paths.default_config(),
                        help='node parameter file (default: config/default.yaml)')
    parser.add_argument('--weights-dir', default=default_weights_dirs(),
                        help="folders holding the checkpoints (':'-separated); overrides "
                             "weights_dir of the file (default: the sample data's weights "
                             'folders, when present)')


def node_command(params_file: Path, image_topic, weights_dir: str = '',
                 extra: List[str] = ()) -> List[str]:
    """Command line that starts the node on ``image_topic`` (a topic or a list) with a file."""
    executable = shutil.which('seg_perception_node')
    command = [executable] if executable else [sys.executable, '-m', 'seg_perception.ros.node']
    topic_list = ','.join([image_topic] if isinstance(image_topic, str) else image_topic)
    command += ['--ros-args', '--params-file', str(params_file),
                '-p', f'image_topics:=[{topic_list}]']
    if weights_dir:
        command += ['-p', f'weights_dir:={weights_dir}']
    return command + list(extra)


def start_node(command: List[str], log_path: Optional[Path] = None,
               environment: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start the node in its own process group (so it can be stopped with its children).

    ``environment`` replaces this process's environment for the node when given.
    """
    output = open(log_path, 'w') if log_path else subprocess.DEVNULL
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            env=dict(environment if environment is not None else os.environ))


def stop_node(process: subprocess.Popen, timeout_s: float = 10.0) -> int:
    """Interrupt the node like Ctrl-C; kill it if it does not exit in time. Returns its code."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


@contextlib.contextmanager
def node_and_driver(command: List[str], log_path: Path, topic: str,
                    outputs=('semantic', 'instances', 'overlay'),
                    timeout_s: float = 120.0) -> Iterator[Tuple[subprocess.Popen, object]]:
    """Start the node process and a ``NodeDriver`` on ``topic``; yield both once connected.

    Raises:
        RuntimeError: the node did not subscribe and latch ``label_info`` within ``timeout_s``
            (its log is at ``log_path``).

    """
    from seg_perception.ros.driver import (NodeDriver, ros_context, spin_in_background,
                                           stop_spinning)

    print('starting:', ' '.join(command), flush=True)
    process = start_node(command, log_path)
    try:
        with ros_context():
            driver = NodeDriver(topic, outputs=outputs)
            spinner = spin_in_background(driver)
            try:
                if not driver.wait_until_connected(timeout_s=timeout_s):
                    raise RuntimeError(f'the node did not come up; see {log_path}')
                yield process, driver
            finally:
                stop_spinning(spinner)
                driver.destroy_node()
    finally:
        stop_node(process)


def sample_frame(width: int, height: int) -> np.ndarray:
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
