"""The README's ROS 2 commands, run as written from another directory, against real frames.

``ros2 launch`` starts the node from the ament index in the venv (as ``scripts/setup.sh`` lays
it out), with the real ESPNetv2 weights; the lifecycle is driven by the launch file and then by
``ros2 lifecycle set``; frames go in over Fast DDS and the outputs' headers and ids are checked.
"""

import re
from typing import Dict, List, Set

import cv2
import pytest
from ros2_cli import NODE, readme_ros2_commands, require_ros2_cli, Shell
from ros_fixtures import use_private_domain
from sample_data import sample

from seg_perception.ros.driver import (make_camera_msg, NodeDriver, ns_to_header, ros_context,
                                       spin_in_background, stop_spinning)
from seg_perception.tools.harness import default_weights_dirs

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRONT = '/cam/front/image_raw'
LEFT = '/cam/left/image_raw/compressed'
#: How the tests below find each README command they run as written; the last test checks that
#: these cover every ``ros2`` command of the README, one each.
README_PREFIXES = (
    'ros2 launch seg_perception seg_perception.launch.py', 'ros2 lifecycle get',
    'ros2 param describe', 'ros2 topic hz', 'ros2 lifecycle set /seg_perception deactivate',
    'ros2 lifecycle set /seg_perception activate',
    'ros2 launch seg_perception multi_camera.launch.py',
    'ros2 run seg_perception seg_perception_node',
)


def readme_command(prefix: str) -> str:
    """Return the README command that starts with ``prefix``; fail unless there is one."""
    assert prefix in README_PREFIXES
    matches = [command for command in readme_ros2_commands() if command.startswith(prefix)]
    assert len(matches) == 1, f'README.md commands starting with {prefix!r}: {matches}'
    return matches[0]


@pytest.fixture
def shell(tmp_path, espnetv2_weights_dir):
    require_ros2_cli()
    domain = use_private_domain()
    shell = Shell(tmp_path, domain, {'WEIGHTS': default_weights_dirs()})
    yield shell
    shell.close()


@pytest.fixture(scope='module')
def camvid_rgb():
    """Return a 480x360 CamVid frame with cars, a bus and people (real data)."""
    path = sample('camvid_samples', 'images', '0001TP_009000.png')
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def send_frames(driver: NodeDriver, rgb, first_ns: int, count: int, frame_id: str,
                encoding: str = 'rgb8') -> List[Dict[str, object]]:
    """Send ``count`` frames 0.1 s apart in lockstep; return each frame's output messages."""
    outputs = []
    for index in range(count):
        header = ns_to_header(first_ns + index * 100_000_000, frame_id)
        result = driver.send_lockstep(make_camera_msg(rgb, header, encoding),
                                      names=('semantic', 'instances', 'detections'),
                                      timeout_s=60.0)
        assert result is not None, f'no outputs for frame {index} on {driver.image_topic}'
        for name, msg in result.messages.items():
            assert msg.header.stamp == header.stamp, name
            assert msg.header.frame_id == frame_id, name
        outputs.append(result.messages)
    return outputs


def track_ids(messages: Dict[str, object]) -> Set[int]:
    """Return the track ids of a frame's ``detections``."""
    return {int(detection.id) for detection in messages['detections'].detections}


@pytest.mark.timeout(420)
def test_single_camera_launch_lifecycle_param_and_topic_commands(shell, camvid_rgb):
    launch = shell.start(readme_command('ros2 launch seg_perception seg_perception.launch.py'),
                         'launch.log')
    shell.wait_for_state('active', timeout_s=180.0, process=launch)
    assert shell.run(readme_command('ros2 lifecycle get')).stdout.strip() == 'active [3]'

    described = shell.run(readme_command('ros2 param describe')).stdout
    assert 'Type: string array' in described
    assert 'Description: Camera topics' in described
    assert "['/cam/front/image_raw']" in shell.run(
        f'ros2 param get {NODE} image_topics').stdout
    # The launch argument weights_dir reached the node.
    assert shell.env['WEIGHTS'] in shell.run(f'ros2 param get {NODE} weights_dir').stdout

    with ros_context():
        driver = NodeDriver(FRONT, outputs=('semantic', 'instances', 'detections'))
        spinner = spin_in_background(driver)
        try:
            assert driver.wait_until_connected(timeout_s=60.0)
            before = send_frames(driver, camvid_rgb, 1_000_000_000, 3, 'cam_front_optical')
            semantic = before[-1]['semantic']
            assert (semantic.height, semantic.width) == camvid_rgb.shape[:2]
            ids_before = track_ids(before[-1])
            assert len(ids_before) >= 2, 'the CamVid frame has several vehicles and people'

            hz = shell.start(readme_command('ros2 topic hz'), 'hz.log')
            for index in range(12):  # about 2 frames/s for several seconds
                header = ns_to_header(2_000_000_000 + index * 100_000_000, 'cam_front_optical')
                driver.send_lockstep(make_camera_msg(camvid_rgb, header),
                                     names=('semantic',), timeout_s=30.0)
            hz_output = shell.stop(hz)
            assert re.search(r'average rate: \d+\.\d+', hz_output), hz_output

            deactivate = shell.run(readme_command('ros2 lifecycle set /seg_perception deactivate'))
            assert 'Transitioning successful' in deactivate.stdout, deactivate.stdout
            assert shell.run(f'ros2 lifecycle get {NODE}').stdout.startswith('inactive')
            activate = shell.run(readme_command('ros2 lifecycle set /seg_perception activate'))
            assert 'Transitioning successful' in activate.stdout, activate.stdout
            assert driver.wait_until_connected(timeout_s=60.0)
            after = send_frames(driver, camvid_rgb, 3_300_000_000, 2, 'cam_front_optical')
            # The model was released and loaded again; the trackers and their ids were kept:
            # the same objects keep their ids.
            assert track_ids(after[-1]) & ids_before
        finally:
            stop_spinning(spinner)
            driver.destroy_node()
    log = shell.stop(launch)
    assert 'active: segmenting /cam/front/image_raw' in log
    assert 'inactive: cameras unsubscribed, model released' in log


@pytest.mark.timeout(420)
def test_multi_camera_launch_serves_both_cameras_with_ids_unique_across_them(shell, camvid_rgb):
    launch = shell.start(readme_command('ros2 launch seg_perception multi_camera.launch.py'),
                         'launch.log')
    shell.wait_for_state('active', timeout_s=180.0, process=launch)
    with ros_context():
        drivers = [NodeDriver(FRONT, outputs=('semantic', 'instances', 'detections'),
                              node_name='front_driver'),
                   NodeDriver(LEFT, outputs=('semantic', 'instances', 'detections'),
                              node_name='left_driver')]
        spinners = [spin_in_background(driver) for driver in drivers]
        try:
            for driver in drivers:
                assert driver.wait_until_connected(timeout_s=60.0), driver.image_topic
            front = send_frames(drivers[0], camvid_rgb, 1_000_000_000, 3, 'front_optical')
            left = send_frames(drivers[1], camvid_rgb, 1_000_000_000, 3, 'left_optical',
                               encoding='jpeg')
        finally:
            for spinner in spinners:
                stop_spinning(spinner)
            for driver in drivers:
                driver.destroy_node()
    front_ids, left_ids = track_ids(front[-1]), track_ids(left[-1])
    assert front_ids and left_ids
    # The same scene on two cameras: two sets of objects, never one id for two of them.
    assert not front_ids & left_ids, (front_ids, left_ids)
    shell.stop(launch)


@pytest.mark.timeout(300)
def test_ros2_run_with_the_installed_parameter_file_autostarts(shell):
    node = shell.start(readme_command('ros2 run seg_perception seg_perception_node'), 'run.log')
    shell.wait_for_state('active', timeout_s=180.0, process=node)
    shell.stop(node)


def test_every_ros2_command_of_the_readme_is_run_by_these_tests():
    commands = readme_ros2_commands()
    assert commands
    for command in commands:
        prefixes = [prefix for prefix in README_PREFIXES if command.startswith(prefix)]
        assert len(prefixes) == 1, f'README command no test runs as written: {command}'
    assert len(commands) == len(README_PREFIXES)
