"""Parameter declarations and validation on a real rclpy node (no model)."""

import os
import subprocess

import pytest
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from ros_fixtures import use_private_domain

from seg_perception.paths import repo_root
from seg_perception.ros import parameters
from seg_perception.settings import with_node_batches
from seg_perception.tools.harness import node_command


@pytest.fixture
def make_node():
    use_private_domain()
    rclpy.init()
    nodes = []

    def make(**overrides):
        node = Node('params_under_test', parameter_overrides=[
            Parameter(name, value=value) for name, value in overrides.items()])
        nodes.append(node)
        parameters.declare_parameters(node)
        return node
    yield make
    for node in nodes:
        node.destroy_node()
    rclpy.shutdown()


def test_defaults_read_into_settings_with_descriptions_and_ranges(make_node):
    node = make_node()
    settings = parameters.read_settings(node)
    assert settings.image_topics == ('/camera/image_raw',)
    assert settings.backend_options.input_width == 1024
    assert settings.tracker.confirm_hits == 2
    descriptor = node.describe_parameter('input_width')
    assert 'multiple of 16' in descriptor.description
    assert descriptor.integer_range[0].step == 16
    assert node.describe_parameter('overlay_alpha').floating_point_range[0].to_value == 1.0


def test_lifting_settings_per_camera(make_node):
    settings = parameters.read_settings(make_node(
        image_topics=['/a/image', '/b/image'], lifting_methods=['ground_plane', 'depth'],
        depth_topics=['', '/b/depth'],
        camera_poses=[1.0, 0.0, 1.5, 0.0, 0.1, 0.0, 1.0, -0.5, 1.5, 0.0, 0.1, -1.57]))
    left, right = settings.lifting
    assert (left.method, left.depth_topic, left.pose) == ('ground_plane', '',
                                                          (1.0, 0.0, 1.5, 0.0, 0.1, 0.0))
    assert (right.method, right.depth_topic, right.pose[5]) == ('depth', '/b/depth', -1.57)
    assert settings.base_frame == 'base_link'


def test_the_node_runs_a_frame_per_camera_side_by_side_unless_batches_are_capped(make_node):
    one = parameters.read_settings(make_node())
    three = parameters.read_settings(make_node(image_topics=['/a/image', '/b/image', '/c/i']))
    capped = parameters.read_settings(make_node(image_topics=['/a/image', '/b/image'],
                                                max_batch_frames=1))
    # As read (process, fleet and the evaluations feed one frame at a time): one.
    assert [s.backend_options.parallel_frames for s in (one, three, capped)] == [1, 1, 1]
    assert [with_node_batches(s).backend_options.parallel_frames
            for s in (one, three, capped)] == [1, 3, 1]
    assert with_node_batches(three).image_topics == three.image_topics


@pytest.mark.parametrize('overrides, message', [
    (dict(image_topics=['/a/image_raw', '/a/image_raw/compressed']), 'same output topics'),
    (dict(image_topics=['/a/image', '/a/image']), 'names a topic twice'),
    (dict(image_topics=['  ']), 'is empty'),
    (dict(qos_reliability='sometimes'), 'best_effort or reliable'),
    (dict(lifting_methods=['stereo']), "'stereo' is not one of"),
    (dict(image_topics=['/a/image', '/b/image'], lifting_methods=['none', 'none', 'none']),
     'lifting_methods must hold 1 value'),
    (dict(camera_poses=[0.0, 0.0, 1.6]), 'camera_poses must hold 6 value'),
    (dict(camera_poses=[0.0, 0.0, float('nan'), 0.0, 0.0, 0.0]), 'non-finite'),
    (dict(lifting_methods=['depth']), 'needs a topic in parameter depth_topics'),
    (dict(lifting_methods=['lidar']), 'needs parameter lidar_topic'),
    (dict(base_frame=''), 'base_frame is empty'),
])
def test_invalid_settings_are_rejected_with_the_reason(make_node, overrides, message):
    with pytest.raises(ValueError, match=message):
        parameters.read_settings(make_node(**overrides))


def test_out_of_range_and_read_only_changes_are_refused_at_run_time(make_node):
    node = make_node()
    result = node.set_parameters([Parameter('overlay_alpha', value=1.5)])[0]
    assert not result.successful
    assert node.set_parameters([Parameter('overlay_alpha', value=0.3)])[0].successful
    result = node.set_parameters([Parameter('backend', value='other')])[0]
    assert not result.successful and 'read-only' in result.reason


def test_node_without_weights_exits_with_what_to_put_where(tmp_path):
    use_private_domain()
    environment = dict(os.environ, SEG_PERCEPTION_WEIGHTS_DIR=str(tmp_path / 'cache'))
    command = node_command(repo_root() / 'config' / 'default.yaml', '/camera/image_raw')
    command += ['-p', 'allow_download:=false']
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env=environment)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert 'espnetv2_s_2.0_city_1024x512.pth' in output
    assert str(tmp_path / 'cache' / 'espnetv2_s_2.0_city_1024x512.pth') in output
    assert 'weights_path' in output
