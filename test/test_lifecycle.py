"""The node as a managed node, and its survival of backend faults, over rclpy and Fast DDS.

The node runs in this process with a network-free segmenter (the layer under test is the node);
a second node drives it through the standard lifecycle services and watches the ROS graph.
"""

import time

from diagnostic_msgs.msg import DiagnosticArray
from fake_segmenters import BoxSegmenter, FaultySegmenter, out_of_memory
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import numpy as np
import pytest
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from ros_fixtures import use_private_domain

from seg_perception import topics
from seg_perception.ros.driver import (decode_output, make_camera_msg, NodeDriver,
                                       ns_to_header, spin_in_background, stop_spinning)
from seg_perception.ros.node import SegmentationNode

pytestmark = pytest.mark.ros

IMAGE_TOPIC = '/lc/front/image_raw'
OUTPUTS = topics.output_topics(IMAGE_TOPIC)


@pytest.fixture
def ros():
    use_private_domain()
    rclpy.init()
    yield
    rclpy.try_shutdown()


def start_node(segmenters, autostart: bool):
    """Start SegmentationNode with segmenters from ``segmenters`` (a list, consumed in order)."""
    node = SegmentationNode(
        segmenter_factory=lambda settings: segmenters.pop(0),
        parameter_overrides=[Parameter('image_topics', value=[IMAGE_TOPIC]),
                             Parameter('autostart', value=autostart),
                             Parameter('qos_reliability', value='reliable'),
                             Parameter('diagnostics_period_s', value=0.2)])
    if autostart and not node.autostart():
        raise RuntimeError(f'autostart failed: {node.last_error}')
    return node, spin_in_background(node)


def stop_node_and_driver(node: SegmentationNode, node_spin, driver: Node, driver_spin) -> None:
    """Stop both spinners, then the node's work, then destroy both nodes."""
    stop_spinning(driver_spin)
    stop_spinning(node_spin)
    node.shutdown_work()
    node.destroy_node()
    driver.destroy_node()


def call(client_node: Node, client, request, timeout_s: float = 20.0):
    """Call a service and wait for its answer (the client node spins in the background)."""
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise TimeoutError(f'service {client.srv_name} did not appear')
    future = client.call_async(request)
    deadline = time.monotonic() + timeout_s
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not future.done():
        raise TimeoutError(f'service {client.srv_name} did not answer')
    return future.result()


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_lifecycle_transitions_create_and_remove_publishers_and_subscriptions(ros):
    first, second = BoxSegmenter(), BoxSegmenter()
    node, node_spin = start_node([first, second], autostart=False)
    driver = NodeDriver(IMAGE_TOPIC, outputs=('semantic',), node_name='lifecycle_driver')
    driver_spin = spin_in_background(driver)
    change = driver.create_client(ChangeState, '/seg_perception/change_state')
    get_state = driver.create_client(GetState, '/seg_perception/get_state')

    def state() -> str:
        return call(driver, get_state, GetState.Request()).current_state.label

    def transition(transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return call(driver, change, request).success

    def counts():
        return (driver.count_publishers(OUTPUTS['semantic']),
                driver.count_publishers(OUTPUTS['label_info']),
                driver.count_subscribers(IMAGE_TOPIC))

    try:
        assert state() == 'unconfigured'
        assert wait_until(lambda: counts() == (0, 0, 0))

        assert transition(Transition.TRANSITION_CONFIGURE)
        assert state() == 'inactive'
        assert wait_until(lambda: counts() == (1, 1, 0)), counts()

        assert transition(Transition.TRANSITION_ACTIVATE)
        assert state() == 'active'
        assert wait_until(lambda: counts() == (1, 1, 1)), counts()
        assert driver.wait_until_connected(10.0)
        rgb = np.zeros((48, 64, 3), np.uint8)
        outputs = driver.send_lockstep(make_camera_msg(rgb, ns_to_header(1_000, 'cam')),
                                       timeout_s=10.0)
        assert outputs is not None
        semantic = decode_output(outputs.messages['semantic'])
        assert semantic.shape == (48, 64) and first.calls == 1

        assert transition(Transition.TRANSITION_DEACTIVATE)
        assert state() == 'inactive'
        assert wait_until(lambda: counts() == (1, 1, 0)), counts()
        assert first.released == 1  # the model is let go (accelerator memory freed)

        # Activating again loads a new model; the trackers, and the ids they gave, stay.
        assert transition(Transition.TRANSITION_ACTIVATE)
        assert wait_until(lambda: counts() == (1, 1, 1)), counts()
        outputs = driver.send_lockstep(make_camera_msg(rgb, ns_to_header(2_000, 'cam')),
                                       timeout_s=10.0)
        assert outputs is not None and second.calls == 1

        assert transition(Transition.TRANSITION_DEACTIVATE)
        assert transition(Transition.TRANSITION_CLEANUP)
        assert state() == 'unconfigured'
        assert wait_until(lambda: counts() == (0, 0, 0)), counts()
        assert second.released == 1

        assert transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert state() == 'finalized'
    finally:
        stop_node_and_driver(node, node_spin, driver, driver_spin)


def test_configure_fails_with_the_reason_and_can_be_retried(ros):
    def factory(settings, attempts=[]):
        attempts.append(settings.backend)
        if len(attempts) == 1:
            raise FileNotFoundError('espnetv2 weights not found in /nowhere')
        return BoxSegmenter()

    node = SegmentationNode(segmenter_factory=factory, parameter_overrides=[
        Parameter('image_topics', value=[IMAGE_TOPIC]), Parameter('autostart', value=False)])
    try:
        assert not node.autostart()
        assert 'weights not found in /nowhere' in node.last_error
        assert node.autostart()
        assert node.pipeline is not None and len(node.streams) == 1
    finally:
        node.shutdown_work()
        node.destroy_node()


def test_backend_exception_and_out_of_memory_skip_the_frame_and_the_node_recovers(ros):
    segmenter = FaultySegmenter({1: RuntimeError('kernel exploded'), 2: out_of_memory()})
    node, node_spin = start_node([segmenter], autostart=True)
    driver = NodeDriver(IMAGE_TOPIC, outputs=('semantic', 'instances'),
                        node_name='fault_driver')
    driver_spin = spin_in_background(driver)
    statuses = []
    driver.create_subscription(DiagnosticArray, '/diagnostics', statuses.append, 10)
    try:
        assert driver.wait_until_connected(10.0)
        rgb = np.zeros((40, 60, 3), np.uint8)
        # A rejected frame first: its warning and the errors below are logged by the same
        # helper, which rclpy refuses if one call site changes severity (the worker died).
        bad = make_camera_msg(rgb, ns_to_header(9, 'cam'))
        bad.width = 0
        driver.send(bad)
        time.sleep(0.5)
        received = []
        for index in range(4):
            outputs = driver.send(make_camera_msg(rgb, ns_to_header(10 + index, 'cam')))
            expected = index in (0, 3)
            received.append(driver.wait_for(10 + index, timeout_s=15.0 if expected else 3.0))
        # calls 1 and 2 raised: those frames have no outputs; the 4th is served again
        assert received == [True, False, False, True]
        assert segmenter.calls == 4
        assert outputs.messages['semantic'].header.stamp.nanosec == 13

        def latest_values():
            if not statuses:
                return {}
            status = statuses[-1].status[0]
            return {kv.key: kv.value for kv in status.values}

        assert wait_until(lambda: (latest_values().get('failed'), latest_values().get(
            'processed'), latest_values().get('rejected')) == ('2', '2', '1'), 5.0), \
            latest_values()
        assert 'OutOfMemoryError' in latest_values()['last error']
    finally:
        stop_node_and_driver(node, node_spin, driver, driver_spin)


def test_cameras_are_served_least_recently_served_first(ros):
    topics_ = ['/rr/a/image_raw', '/rr/b/image_raw', '/rr/c/image_raw']
    node = SegmentationNode(segmenter_factory=lambda settings: BoxSegmenter(),
                            parameter_overrides=[Parameter('image_topics', value=topics_),
                                                 Parameter('autostart', value=False),
                                                 Parameter('max_batch_frames', value=1)])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # no worker yet
        a, b, c = node.streams
        node._stopping = False
        order = []
        for _ in range(6):  # a fast camera (a) always has a new frame; b and c sometimes
            a.pending = 'frame'
            if len(order) % 2 == 0:
                b.pending = c.pending = 'frame'
            order += [stream.topic for stream, _, _ in node._take_pending()]
        # a cannot starve b and c: round robin, whatever a's rate
        assert order == topics_ * 2
        assert node._batch_limit == 1
    finally:
        node.shutdown_work()
        node.destroy_node()


def test_on_the_cpu_batches_hold_as_many_frames_as_the_backend_runs_side_by_side(ros):
    asked = []

    def two_streams(settings):
        asked.append(settings.backend_options.parallel_frames)
        segmenter = BoxSegmenter()
        segmenter.parallel_frames = 2
        return segmenter
    overrides = [Parameter('image_topics', value=['/pf/a/image_raw', '/pf/b/image_raw']),
                 Parameter('autostart', value=False)]
    node = SegmentationNode(segmenter_factory=two_streams, parameter_overrides=overrides)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert asked == [2]  # the node asks for a frame per camera side by side ...
        assert node._batch_limit == 2  # ... and batches what the backend runs side by side
    finally:
        node.shutdown_work()
        node.destroy_node()
