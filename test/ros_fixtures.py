"""Start the real node as its own process, on a private ROS domain.

A private domain keeps parallel runs and other ROS graphs on the machine from interfering.
"""

import itertools
import os
from pathlib import Path

from seg_perception.paths import repo_root
from seg_perception.tools.harness import (default_weights_dirs, node_command, start_node,
                                          stop_node)


#: Highest ROS_DOMAIN_ID that is safe on Linux: the ports of larger ids run into the ephemeral
#: port range (32768..60999) with Fast DDS's default port mapping.
MAX_DOMAIN_ID = 101
# Each call takes the next id, starting from one that depends on the pid, so that the tests of
# one run never share a domain and two runs at once rarely do.
_DOMAINS = itertools.count(os.getpid() % MAX_DOMAIN_ID)


def use_private_domain() -> int:
    """Give the calling test (and the processes it starts) a ROS_DOMAIN_ID of its own, 1..101."""
    domain = next(_DOMAINS) % MAX_DOMAIN_ID + 1
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    return domain


class RunningNode:
    """``seg_perception_node`` in its own process; ``log()`` returns what it printed so far."""

    def __init__(self, topics, weights_dir: str, log_path: Path, extra=()):
        params = repo_root() / 'config' / 'default.yaml'
        # The default configuration's other models (lanes, detector) are found there too.
        weights_dir = ':'.join(d for d in (weights_dir, default_weights_dirs()) if d)
        command = node_command(params, topics[0], weights_dir, list(extra))
        topic_list = ','.join(topics)
        command = [c if not c.startswith('image_topics:=') else f'image_topics:=[{topic_list}]'
                   for c in command]
        self.log_path = log_path
        # The node process imports seg_perception from this checkout, like the tests do (the
        # venv's console script would import the editable install, maybe another worktree).
        root = str(repo_root())
        paths = [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + paths))
        self.process = start_node(command + ['-p', 'allow_download:=false', '-p', 'device:=cpu',
                                             '--log-level', 'seg_perception:=debug'], log_path,
                                  environment)

    def alive(self) -> bool:
        """Return True while the process runs."""
        return self.process.poll() is None

    def log(self) -> str:
        """Everything the node printed so far."""
        return self.log_path.read_text(errors='replace')

    def stop(self) -> int:
        """Stop the node (SIGINT, then SIGKILL); return its exit code."""
        return stop_node(self.process)
