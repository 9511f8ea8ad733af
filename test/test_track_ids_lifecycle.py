"""Track ids across lifecycle transitions, with the real ESPNetv2 weights, over rclpy and Fast DDS.

The node runs in this process (``autostart`` false) and is driven through the standard lifecycle
services by a second node, which also feeds it the same CamVid frame and reads ``detections``.
Deactivate releases the model and activate loads it again from ``weights_dir``: the trackers stay,
so the same objects keep their ids. Cleanup and configure make new trackers, which take ids from
the node's one ``TrackIdCounter``: every new id is larger than every id given before.
"""

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
import pytest
import rclpy
from rclpy.parameter import Parameter
from ros_fixtures import use_private_domain
from sample_data import sample
from test_lifecycle import call, stop_node_and_driver, wait_until

from seg_perception import topics
from seg_perception.ros.driver import (make_camera_msg, NodeDriver, ns_to_header,
                                       spin_in_background)
from seg_perception.ros.node import SegmentationNode
from seg_perception.tools.image_source import read_rgb

pytestmark = [pytest.mark.ros, pytest.mark.slow]

IMAGE_TOPIC = '/ids/front/image_raw'
FRAME_NS = 100_000_000  # 10 Hz
FRAMES_PER_PHASE = 3


@pytest.fixture(scope='module')
def camvid_frame():
    """Return a 480x360 CamVid frame with cars (RGB array)."""
    return read_rgb(sample('camvid_samples', 'images', '0001TP_009000.png'))


@pytest.mark.timeout(300)
def test_ids_survive_deactivate_and_are_never_reused_after_cleanup_with_real_weights(
        camvid_frame, espnetv2_weights_dir):
    use_private_domain()
    rclpy.init()
    node = SegmentationNode(parameter_overrides=[
        Parameter('image_topics', value=[IMAGE_TOPIC]),
        Parameter('autostart', value=False),
        Parameter('backend', value='espnetv2'),
        Parameter('detector', value=''),
        Parameter('weights_dir', value=str(espnetv2_weights_dir)),
        Parameter('allow_download', value=False),
        Parameter('device', value='cpu'),
        Parameter('input_width', value=480),
        Parameter('input_height', value=352),
        Parameter('qos_reliability', value='reliable')])
    node_spin = spin_in_background(node)
    driver = NodeDriver(IMAGE_TOPIC, outputs=('detections',), node_name='ids_driver')
    driver_spin = spin_in_background(driver)
    change = driver.create_client(ChangeState, f'/{node.get_name()}/change_state')
    detections_topic = topics.output_topics(IMAGE_TOPIC)['detections']
    stamps = iter(range(FRAME_NS, 1000 * FRAME_NS, FRAME_NS))

    def transition(transition_id: int) -> None:
        request = ChangeState.Request()
        request.transition.id = transition_id
        assert call(driver, change, request, timeout_s=120.0).success, node.last_error

    def connected() -> bool:
        """Return True once the node reads our frames and we read its detections."""
        return (driver.publisher.get_subscription_count() > 0 and
                driver.count_publishers(detections_topic) > 0 and
                node.streams[0].publishers['detections'].get_subscription_count() > 0)

    def feed() -> list:
        """Send the frame FRAMES_PER_PHASE times; return each frame's set of track ids."""
        assert wait_until(connected, 30.0)
        ids = []
        for _ in range(FRAMES_PER_PHASE):
            msg = make_camera_msg(camvid_frame, ns_to_header(next(stamps), 'camvid'))
            outputs = driver.send_lockstep(msg, timeout_s=60.0, retries=1)
            assert outputs is not None, node.last_error
            ids.append({int(d.id) for d in outputs.messages['detections'].detections})
        return ids

    try:
        transition(Transition.TRANSITION_CONFIGURE)
        transition(Transition.TRANSITION_ACTIVATE)
        first = feed()
        # The frame's cars get ids (confirmed in the first or the second frame) and keep them.
        assert len(first[-1]) >= 2, first
        assert first[-1] == first[-2], first

        transition(Transition.TRANSITION_DEACTIVATE)
        assert node.pipeline.segmenter is None  # the model is released
        assert wait_until(lambda: driver.publisher.get_subscription_count() == 0, 10.0)
        transition(Transition.TRANSITION_ACTIVATE)  # loads the weights again
        assert node.pipeline.segmenter is not None
        reactivated = feed()
        # Same trackers: the same objects keep their ids, and no id is new.
        assert reactivated[0] == first[-1], (first, reactivated)
        assert set().union(*reactivated) == first[-1], (first, reactivated)

        transition(Transition.TRANSITION_DEACTIVATE)
        transition(Transition.TRANSITION_CLEANUP)
        assert wait_until(lambda: driver.count_publishers(detections_topic) == 0, 10.0)
        transition(Transition.TRANSITION_CONFIGURE)
        transition(Transition.TRANSITION_ACTIVATE)
        reconfigured = feed()
        earlier = set().union(*first, *reactivated)
        later = set().union(*reconfigured)
        print('ids: first', first, 'after deactivate/activate', reactivated,
              'after cleanup/configure', reconfigured)
        # New trackers: the same objects again, under ids never given before, all larger.
        assert len(later) >= len(first[-1]), (earlier, later)
        assert min(later) > max(earlier), (earlier, later)
    finally:
        stop_node_and_driver(node, node_spin, driver, driver_spin)
        rclpy.try_shutdown()
