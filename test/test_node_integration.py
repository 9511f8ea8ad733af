"""The real node in its own process, over rclpy and Fast DDS, fed real images.

Checks the topic contract: every output carries the input's exact stamp and frame_id, at input
resolution, with the contract's encodings; label_info names the classes; semantic equals the core
pipeline's offline result; bad input is logged and the node keeps serving.
"""

import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
import rclpy
from ros_fixtures import RunningNode, use_private_domain
from sample_data import sample

from seg_perception import taxonomy
from seg_perception.build import build_pipeline
from seg_perception.paths import repo_root
from seg_perception.ros.driver import (decode_output, make_camera_msg, NodeDriver, ns_to_header,
                                       spin_in_background, stop_spinning)
from seg_perception.ros.lane_messages import lanes_available
from seg_perception.settings_file import read_file_settings
from seg_perception.structures import Frame
from seg_perception.tools.harness import default_weights_dirs
from seg_perception.tools.image_source import read_rgb

pytestmark = [pytest.mark.ros, pytest.mark.slow]

TOPICS = {
    'rgb8': '/it/front/image_raw',
    'bgr8': '/it/left/image_raw',
    'jpeg': '/it/right/image_raw/compressed',
}


@pytest.fixture(scope='module')
def ros_graph(tmp_path_factory, espnetv2_weights_dir):
    """Start the node serving three cameras, and one driver per camera, all spinning."""
    use_private_domain()
    log_path = tmp_path_factory.mktemp('node') / 'node.log'
    node = RunningNode(list(TOPICS.values()), str(espnetv2_weights_dir), log_path)
    rclpy.init()
    outputs = ('semantic', 'instances', 'overlay', 'detections', 'markers') + \
        (('lanes',) if lanes_available() else ())
    drivers = {encoding: NodeDriver(topic, outputs, node_name=f'driver_{encoding}')
               for encoding, topic in TOPICS.items()}
    spinners = [spin_in_background(d) for d in drivers.values()]
    try:
        for driver in drivers.values():
            assert driver.wait_until_connected(120.0), node.log()
        yield node, drivers
    finally:
        node.stop()
        for spinner in spinners:
            stop_spinning(spinner)
        for driver in drivers.values():
            driver.destroy_node()
        rclpy.try_shutdown()


@pytest.fixture(scope='module')
def offline_pipeline(espnetv2_weights_dir):
    """Return the default configuration's pipeline, built as the node builds it."""
    settings = read_file_settings(repo_root() / 'config' / 'default.yaml', {
        'weights_dir': default_weights_dirs(), 'device': 'cpu', 'allow_download': False})
    return build_pipeline(settings)


def _expected_semantic(pipeline, rgb):
    return pipeline.process(Frame(image=rgb, camera='offline')).semantic


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'jpeg'])
def test_outputs_keep_header_resolution_encoding_and_match_offline(
        ros_graph, offline_pipeline, encoding):
    node, drivers = ros_graph
    driver = drivers[encoding]
    rgb = read_rgb(sample('camvid_samples', 'images', '0001TP_008550.png'))
    header = ns_to_header(1_700_000_000_123_456_789 + hash(encoding) % 1000, f'{encoding}_cam')
    msg = make_camera_msg(rgb, header, encoding)
    outputs = driver.send_lockstep(msg, timeout_s=120.0)
    assert outputs is not None, node.log()
    for name, expected_encoding in (('semantic', 'mono8'), ('instances', 'mono16'),
                                    ('overlay', 'rgb8')):
        out = outputs.messages[name]
        assert out.header.stamp == header.stamp
        assert out.header.frame_id == header.frame_id
        assert (out.height, out.width) == rgb.shape[:2]
        assert out.encoding == expected_encoding
    if encoding == 'jpeg':
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR),
                               cv2.COLOR_BGR2RGB)
        expected = _expected_semantic(offline_pipeline, decoded)
    else:
        expected = _expected_semantic(offline_pipeline, rgb)
    semantic = decode_output(outputs.messages['semantic'])
    np.testing.assert_array_equal(semantic, expected)
    road = np.isin(semantic, [taxonomy.class_id('road'), taxonomy.class_id('lane_marking')])
    assert road.mean() > 0.2  # lane lines are painted over the road
    assert driver.label_info is not None


def test_label_info_names_the_classes(ros_graph):
    _, drivers = ros_graph
    names = {c.class_id: c.class_name for c in drivers['rgb8'].label_info.class_map}
    for name in ('road', 'sidewalk', 'car', 'person', 'rider', 'traffic_sign', 'traffic_light',
                 'lane_marking'):
        assert names[taxonomy.class_id(name)] == name
    assert names[255] == 'unlabeled'


def test_full_resolution_cityscapes_frame_keeps_its_size(ros_graph, cityscapes_frame):
    node, drivers = ros_graph
    rgb = read_rgb(cityscapes_frame)
    header = ns_to_header(1_700_000_100_000_000_000, 'cityscapes')
    outputs = drivers['rgb8'].send_lockstep(make_camera_msg(rgb, header, 'rgb8'),
                                            timeout_s=120.0)
    assert outputs is not None, node.log()
    semantic = decode_output(outputs.messages['semantic'])
    instances = decode_output(outputs.messages['instances'])
    assert semantic.shape == (1024, 2048) and instances.shape == (1024, 2048)
    # Instance pixels lie on thing classes only.
    thing = taxonomy.thing_mask_table()[semantic]
    assert not instances[~thing].any()


def test_bad_input_is_logged_and_the_node_keeps_serving(ros_graph):
    node, drivers = ros_graph
    rgb = read_rgb(sample('camvid_samples', 'images', '0001TP_008580.png'))
    driver = drivers['rgb8']
    bad = []
    wrong_encoding = make_camera_msg(rgb, ns_to_header(1, 'cam'), 'rgb8')
    wrong_encoding.encoding = '32FC1'
    bad.append(wrong_encoding)
    truncated = make_camera_msg(rgb, ns_to_header(2, 'cam'), 'rgb8')
    truncated.data = truncated.data[:len(truncated.data) // 2]
    bad.append(truncated)
    zero_width = make_camera_msg(rgb, ns_to_header(3, 'cam'), 'rgb8')
    zero_width.width = 0
    bad.append(zero_width)
    for msg in bad:
        driver.send(msg)
        time.sleep(0.3)  # one at a time, or latest-frame-only processing drops all but one
    corrupt = make_camera_msg(rgb, ns_to_header(4, 'cam'), 'jpeg')
    corrupt.data = bytes(corrupt.data)[:200] + bytes(1000)
    drivers['jpeg'].send(corrupt)
    time.sleep(0.3)
    good = make_camera_msg(rgb, ns_to_header(1_700_000_200_000_000_000, 'cam'), 'rgb8')
    outputs = driver.send_lockstep(good, timeout_s=120.0)
    assert outputs is not None, node.log()
    assert node.alive()
    log = node.log()
    assert "unsupported encoding '32FC1'" in log
    assert 'truncated message' in log
    assert 'zero size' in log
    assert 'cannot decode compressed image' in log
    assert 'latency' in log  # per-frame latency at debug level
    # /diagnostics counts what happened, per camera.
    statuses = {}
    driver.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda msg: statuses.update({s.name: s for s in msg.status}), 10)
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline and len(statuses) < 3:
        time.sleep(0.2)
    front = statuses['seg_perception: /it/front/image_raw']
    values = {kv.key: kv.value for kv in front.values}
    assert int(values['rejected']) >= 3 and int(values['processed']) >= 1
    assert int(values['received']) >= int(values['processed']) + 3
    assert values['last error']
    assert front.hardware_id == '/it/front'
    jpeg_values = {kv.key: kv.value
                   for kv in statuses['seg_perception: /it/right/image_raw/compressed'].values}
    assert 'cannot decode' in jpeg_values['last error']


def test_track_ids_agree_between_detections_instances_and_markers(ros_graph):
    node, drivers = ros_graph
    driver = drivers['rgb8']
    names = ['0001TP_008550', '0001TP_008580', '0001TP_008610', '0001TP_008640']
    ids_per_frame = []
    for index, name in enumerate(names):
        rgb = read_rgb(sample('camvid_samples', 'images', f'{name}.png'))
        # CamVid frames are 1 s apart; stamps after the other tests' so the tracker keeps going.
        header = ns_to_header(1_800_000_000_000_000_000 + index * 1_000_000_000, 'camvid')
        outputs = driver.send_lockstep(make_camera_msg(rgb, header, 'rgb8'), timeout_s=120.0)
        assert outputs is not None, node.log()
        detections = outputs.messages['detections']
        assert detections.header.stamp == header.stamp
        assert detections.header.frame_id == 'camvid'
        instances = decode_output(outputs.messages['instances'])
        semantic = decode_output(outputs.messages['semantic'])
        ids = [int(d.id) for d in detections.detections]
        assert len(set(ids)) == len(ids)
        assert set(ids) == set(np.unique(instances).tolist()) - {0}
        for detection in detections.detections:
            assert detection.header.stamp == header.stamp
            mask = instances == int(detection.id)
            rows, cols = np.nonzero(mask)
            box = detection.bbox
            x_min = box.center.position.x - box.size_x / 2
            y_min = box.center.position.y - box.size_y / 2
            assert x_min - 1 <= cols.min() and cols.max() <= x_min + box.size_x + 1
            assert y_min - 1 <= rows.min() and rows.max() <= y_min + box.size_y + 1
            class_name = detection.results[0].hypothesis.class_id
            assert (semantic[mask] == taxonomy.class_id(class_name)).all()
            assert 0.0 < detection.results[0].hypothesis.score <= 1.0
        markers = outputs.messages['markers'].markers
        assert markers[0].action == markers[0].DELETEALL
        labels = {m.text for m in markers[1:]
                  if m.type == m.TEXT_VIEW_FACING and not m.ns.endswith('/lanes')}
        assert labels == {f'{d.results[0].hypothesis.class_id} #{d.id}'
                          for d in detections.detections}
        assert all(m.header.frame_id == 'camvid' for m in markers)
        ids_per_frame.append(set(ids))
    assert all(ids_per_frame), 'every CamVid frame here shows cars'
    # The parked cars and the van ahead stay in view: some ids carry over from frame to frame.
    assert all(a & b for a, b in zip(ids_per_frame, ids_per_frame[1:])), ids_per_frame


@pytest.mark.skipif(not lanes_available(), reason='seg_perception_msgs not built')
def test_lane_lines_come_with_the_input_header(ros_graph, offline_pipeline):
    node, drivers = ros_graph
    rgb = read_rgb(sample('bdd100k_samples', 'twinlitenet_images', 'caeb782d-4a20b7c4.jpg'))
    header = ns_to_header(1_900_000_000_000_000_000, 'bdd_cam')
    outputs = drivers['rgb8'].send_lockstep(make_camera_msg(rgb, header, 'rgb8'),
                                            timeout_s=120.0)
    assert outputs is not None, node.log()
    lanes = outputs.messages['lanes']
    assert lanes.header.stamp == header.stamp and lanes.header.frame_id == 'bdd_cam'
    assert lanes.base_frame == 'base_link'
    expected = _offline_lanes(offline_pipeline, rgb)
    assert len(lanes.lanes) == len(expected) >= 1
    assert all(lane.id >= 1 and len(lane.image_points) >= 2 for lane in lanes.lanes)
    assert sorted(round(lane.image_points[0].x) for lane in lanes.lanes) == \
        sorted(round(line.image_points[0, 0]) for line in expected)
    strips = [m for m in outputs.messages['markers'].markers if m.ns.endswith('/lanes')]
    assert {m.id // 2 for m in strips} == {lane.id for lane in lanes.lanes}


def _offline_lanes(pipeline, rgb):
    return pipeline.process(Frame(image=rgb, camera='offline_lanes')).lanes
