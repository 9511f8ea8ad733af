"""Start the real node as its own process, on a private ROS domain.

A private domain keeps parallel runs and other ROS graphs on the machine from interfering.
"""

import os
from pathlib import Path
import random

from seg_perception.tools.drive import node_command, start_node, stop_node
from seg_perception.tools.paths import repo_root, sample_path


def use_private_domain() -> int:
    """Pick a random ROS_DOMAIN_ID for this test process and the nodes it starts."""
    domain = random.Random(os.getpid()).randint(1, 200)
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    return domain


class RunningNode:
    """``seg_perception_node`` in its own process; ``log()`` returns what it printed so far."""

    def __init__(self, topics, weights_dir: str, log_path: Path, extra=()):
        params = repo_root() / 'config' / 'default.yaml'
        lanes = sample_path('weights', 'twinlitenet')  # the default backend's lane model
        if lanes is not None:
            weights_dir = f'{weights_dir}:{lanes}'
        command = node_command(params, topics[0], weights_dir, list(extra))
        topic_list = ','.join(topics)
        command = [c if not c.startswith('image_topics:=') else f'image_topics:=[{topic_list}]'
                   for c in command]
        self.log_path = log_path
        self.process = start_node(command + ['-p', 'allow_download:=false', '-p', 'device:=cpu',
                                             '--log-level', 'seg_perception:=debug'], log_path)

    def alive(self) -> bool:
        """Return True while the process runs."""
        return self.process.poll() is None

    def log(self) -> str:
        """Everything the node printed so far."""
        return self.log_path.read_text(errors='replace')

    def stop(self) -> int:
        """Stop the node (SIGINT, then SIGKILL); return its exit code."""
        return stop_node(self.process)
