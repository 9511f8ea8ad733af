"""Run the ``ros2`` command line and ``ros2 launch`` as a user would, from another directory.

Every process started here is in its own process group and stopped by its pid; the ros2 daemon
of the test's ROS domain is stopped at the end.
"""

import os
from pathlib import Path
import re
import shutil
import subprocess
import time
from typing import Dict, List, Optional

import pytest

from seg_perception.paths import repo_root
from seg_perception.tools.harness import stop_node

#: The lifecycle node's name (launch files and the console script use it).
NODE = '/seg_perception'


def require_ros2_cli() -> None:
    """Skip the test when this environment has no ``ros2`` command line (setup.sh adds it)."""
    if shutil.which('ros2') is None:
        pytest.skip('no ros2 command line (scripts/setup.sh installs ../shared/ros2_overlay)')


class Shell:
    """Runs commands with ``bash -c`` in ``cwd`` with a private ROS domain and extra variables.

    Args:
        cwd: working directory (not the checkout: what a user types must work from anywhere).
        domain: ROS_DOMAIN_ID of every command.
        variables: more environment variables (the README's ``WEIGHTS``, for example).

    """

    def __init__(self, cwd: Path, domain: int, variables: Optional[Dict[str, str]] = None):
        self.cwd = cwd
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(domain), **(variables or {}))
        self.started: List[subprocess.Popen] = []
        self.log_dir = cwd

    def run(self, command: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
        """Run a command to its end; return it with its output (stdout and stderr together)."""
        return subprocess.run(['bash', '-c', command], cwd=self.cwd, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout_s)

    def start(self, command: str, log_name: str) -> subprocess.Popen:
        """Start a long-running command (``ros2 launch``, ``ros2 topic hz``) in the background."""
        log = open(self.cwd / log_name, 'w')
        process = subprocess.Popen(['bash', '-c', 'exec ' + command], cwd=self.cwd,
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        process.log_path = self.cwd / log_name
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout_s: float = 20.0) -> str:
        """Interrupt a started process group like Ctrl-C (kill it if it hangs); return its log."""
        stop_node(process, timeout_s)
        return process.log_path.read_text(errors='replace')

    def close(self) -> None:
        """Stop every started process and this domain's ros2 daemon."""
        for process in self.started:
            self.stop(process)
        if shutil.which('ros2'):
            self.run('ros2 daemon stop', timeout_s=30.0)

    def wait_for_state(self, state: str, timeout_s: float = 120.0,
                       process: Optional[subprocess.Popen] = None) -> str:
        """Poll ``ros2 lifecycle get /seg_perception`` until it prints ``state``; return it.

        Raises:
            AssertionError: the state did not come in time, or ``process`` ended first.

        """
        deadline = time.monotonic() + timeout_s
        output = ''
        while time.monotonic() < deadline:
            output = self.run(f'ros2 lifecycle get {NODE}', timeout_s=30.0).stdout
            if re.match(rf'{state} \[\d+\]', output.strip()):
                return output
            if process is not None and process.poll() is not None:
                raise AssertionError(f'{process.args} ended ({process.returncode}):\n'
                                     + process.log_path.read_text(errors='replace')[-3000:])
            time.sleep(1.0)
        log = process.log_path.read_text(errors='replace')[-3000:] if process else ''
        raise AssertionError(f'node not {state} after {timeout_s} s: {output!r}\n{log}')


def readme_ros2_commands() -> List[str]:
    """Return the ``ros2 ...`` commands of README.md's shell blocks, continuations joined."""
    text = (repo_root() / 'README.md').read_text()
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, flags=re.S):
        joined = re.sub(r'\\\n\s*', '', block)
        for line in joined.splitlines():
            line = line.split('  #', 1)[0].strip()
            if line.startswith('ros2 '):
                commands.append(line)
    return commands
