"""Bags: make-bag, process and render over rosbag2 (sqlite3 and mcap), read back two ways."""

from pathlib import Path
from typing import Dict, List, Tuple

import cv2
from fake_segmenters import BoxSegmenter
from mcap.reader import make_reader
import numpy as np
from params_files import write_espnetv2_params
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.interfaces import QosDurability
from rosbags.serde import SerdeError
from sample_data import sample
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from seg_perception import taxonomy
from seg_perception.pipeline import Pipeline
from seg_perception.ros import bag_io
from seg_perception.ros.bag_processing import process_bag
from seg_perception.ros.conversions import array_to_image_msg
from seg_perception.ros.lane_messages import lanes_available
from seg_perception.ros.messages import detections_msg
from seg_perception.settings_file import read_file_settings, read_values
from seg_perception.structures import Frame, FrameResult, TrackedObject
from seg_perception.tools import cli, make_bag, semantic_eval
from seg_perception.tools.image_source import iter_frames, read_rgb
from seg_perception.tools.process_bag import pipeline_from_file
from seg_perception.tracking import Tracker, TrackerConfig

CAR = taxonomy.class_id('car')
ROAD = taxonomy.class_id('road')
START_NS = 1_700_000_000_000_000_000
OUTPUTS = ('semantic', 'instances', 'detections', 'markers', 'overlay')


def box_pipeline() -> Pipeline:
    """Return a pipeline with the fake segmenter (no network)."""
    return Pipeline(BoxSegmenter(), lambda: Tracker(TrackerConfig()))


def camvid_images(count: int) -> List[Path]:
    """Return the first ``count`` CamVid frames (skips the test without sample data)."""
    folder = sample('camvid_samples', 'images')
    return sorted(folder.glob('*.png'))[:count]


def make_input_bag(tmp_path: Path, name: str, count: int, storage: str = 'sqlite3',
                   compressed: bool = False) -> Path:
    """Write ``count`` CamVid frames into a bag with the ``make-bag`` command."""
    source = tmp_path / f'{name}_frames'
    source.mkdir()
    for path in camvid_images(count):
        (source / path.name).symlink_to(path)
    bag = tmp_path / name
    argv = ['make-bag', str(source), str(bag), '--fps', '10', '--storage', storage,
            '--topic', '/cam/front/image_raw', '--start', str(START_NS / 1e9)]
    assert cli.main(argv + (['--compressed'] if compressed else [])) == 0
    return bag


def read_rosbags(bag: Path) -> Dict[str, List[Tuple[int, object]]]:
    """Return topic -> [(bag time, typestore message, or None when it cannot be decoded)]."""
    store = bag_io.typestore()
    messages: Dict[str, List[Tuple[int, object]]] = {}
    with bag_io.open_reader(bag) as reader:
        for connection, bag_time, raw in reader.messages():
            try:
                msg = store.deserialize_cdr(raw, connection.msgtype)
            except SerdeError:
                msg = None
            messages.setdefault(connection.topic, []).append((bag_time, msg))
    return messages


def read_mcap(bag: Path) -> Dict[str, List[Tuple[int, str, bytes]]]:
    """Return topic -> [(log time, schema name, CDR bytes)] read with mcap's own reader."""
    messages: Dict[str, List[Tuple[int, str, bytes]]] = {}
    for path in sorted(bag.glob('*.mcap')):
        with open(path, 'rb') as stream:
            for schema, channel, message in make_reader(stream).iter_messages():
                messages.setdefault(channel.topic, []).append(
                    (message.log_time, schema.name, message.data))
    return messages


def stamp_ns(msg) -> int:
    """Return a header stamp in nanoseconds."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


@pytest.fixture(scope='module')
def small_params(tmp_path_factory) -> Path:
    """Parameter file: ESPNetv2 alone with a 512x256 input on the CPU (cheaper than default)."""
    return write_espnetv2_params(tmp_path_factory.mktemp('params') / 'small.yaml', 512, 256)


def test_make_bag_writes_sorted_stamped_frames_in_both_storages(tmp_path):
    for storage in bag_io.STORAGES:
        bag = make_input_bag(tmp_path, f'in_{storage}', 2, storage)
        assert bag_io.bag_storage(bag) == storage
        messages = read_rosbags(bag)['/cam/front/image_raw']
        assert [t for t, _ in messages] == [START_NS, START_NS + 100_000_000]
        assert [stamp_ns(m) for _, m in messages] == [t for t, _ in messages]
        first = bag_io.image_to_array(messages[0][1])
        np.testing.assert_array_equal(first, read_rgb(camvid_images(1)[0]))


def test_make_bag_compressed_appends_compressed_topic(tmp_path):
    bag = make_input_bag(tmp_path, 'jpeg', 1, compressed=True)
    messages = read_rosbags(bag)
    assert list(messages) == ['/cam/front/image_raw/compressed']
    assert messages['/cam/front/image_raw/compressed'][0][1].format == 'jpeg'


CALIBRATION_YAML = '''image_width: 480
image_height: 360
camera_name: front
camera_matrix: {rows: 3, cols: 3, data: [400.0, 0.0, 240.5, 0.0, 401.0, 180.5, 0.0, 0.0, 1.0]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [-0.1, 0.01, 0.0, 0.0, 0.0]}
'''


def calibrated_bag(tmp_path: Path, frames: int) -> Path:
    """Write a bag of ``frames`` CamVid images on /cam/front with CALIBRATION_YAML's info."""
    calibration = tmp_path / 'front.yaml'
    calibration.write_text(CALIBRATION_YAML)
    source = tmp_path / 'frames'
    source.mkdir()
    for path in camvid_images(frames):
        (source / path.name).symlink_to(path)
    bag = tmp_path / 'bag'
    assert cli.main(['make-bag', str(source), str(bag), '--topic', '/cam/front/image_raw',
                     '--camera-info', str(calibration), '--start', str(START_NS / 1e9)]) == 0
    return bag


def test_make_bag_camera_info_shares_each_frames_header(tmp_path):
    bag = calibrated_bag(tmp_path, 2)
    messages = read_rosbags(bag)
    images, infos = messages['/cam/front/image_raw'], messages['/cam/front/camera_info']
    assert [t for t, _ in infos] == [t for t, _ in images]
    for (_, image), (_, info) in zip(images, infos):
        assert stamp_ns(info) == stamp_ns(image)
        assert info.header.frame_id == image.header.frame_id == 'camera_optical_frame'
        assert (info.width, info.height, info.distortion_model) == (480, 360, 'plumb_bob')
        np.testing.assert_allclose(info.k, [400, 0, 240.5, 0, 401, 180.5, 0, 0, 1])
        np.testing.assert_allclose(info.d, [-0.1, 0.01, 0, 0, 0])
        np.testing.assert_allclose(info.p, [400, 0, 240.5, 0, 0, 401, 180.5, 0, 0, 0, 1, 0])
        np.testing.assert_allclose(info.r, np.eye(3).reshape(-1))

    # process --include-inputs copies camera_info beside the camera topic
    process_bag(bag, tmp_path / 'out', box_pipeline(), include_inputs=True)
    out = read_rosbags(tmp_path / 'out')
    assert [stamp_ns(m) for _, m in out['/cam/front/camera_info']] == \
        [stamp_ns(m) for _, m in images]


def test_process_lifts_objects_3d_as_the_node_when_camera_info_is_in_the_bag(tmp_path):
    bag = calibrated_bag(tmp_path, 3)
    # Looking 0.1 rad down, the fake car's lower edge (the middle row) is about 10 m ahead.
    settings = read_file_settings(None, {'camera_poses': [0.0, 0.0, 1.65, 0.0, 0.1, 0.0],
                                         'base_frame': 'vehicle'})
    stats = process_bag(bag, tmp_path / 'out', box_pipeline(), settings=settings)
    out = read_rosbags(tmp_path / 'out')
    lifted = out['/cam/front/segmentation/objects_3d']
    assert stats.written['/cam/front/segmentation/objects_3d'] == 3
    images = read_rosbags(bag)['/cam/front/image_raw']
    assert [stamp_ns(m) for _, m in lifted] == [stamp_ns(m) for _, m in images]
    assert all(m.header.frame_id == 'vehicle' for _, m in lifted)
    detections = {stamp_ns(m): {d.id for d in m.detections}
                  for _, m in out['/cam/front/segmentation/detections']}
    objects = [d for _, m in lifted for d in m.detections]
    assert objects, 'confirmed car tracks are lifted'
    for _, msg in lifted:
        assert {d.id for d in msg.detections} <= detections[stamp_ns(msg)]
    for detection in objects:
        assert 8.0 < detection.bbox.center.position.x < 14.0
    # Without settings (or without camera_info) there is no objects_3d topic at all.
    process_bag(bag, tmp_path / 'plain', box_pipeline())
    assert '/cam/front/segmentation/objects_3d' not in read_rosbags(tmp_path / 'plain')


def test_make_bag_camera_info_errors(tmp_path, capsys):
    source = tmp_path / 'frames'
    source.mkdir()
    (source / 'a.png').symlink_to(camvid_images(1)[0])
    wrong_size = tmp_path / 'wrong.yaml'
    wrong_size.write_text(CALIBRATION_YAML.replace('image_width: 480', 'image_width: 640'))
    no_matrix = tmp_path / 'no_matrix.yaml'
    no_matrix.write_text('image_width: 480\nimage_height: 360\n')
    short = tmp_path / 'short.yaml'
    short.write_text(CALIBRATION_YAML.replace('0.0, 0.0, 1.0]}', '0.0]}'))
    for path, reason in ((wrong_size, 'is 480x360 but the camera calibration is for 640x360'),
                         (no_matrix, 'lacks camera_matrix'),
                         (short, 'camera_matrix must hold 9 numbers'),
                         (tmp_path / 'absent.yaml', 'does not exist')):
        argv = ['make-bag', str(source), str(tmp_path / f'bag_{path.stem}'),
                '--camera-info', str(path)]
        assert cli.main(argv) == 2
        assert reason in capsys.readouterr().err


def test_evaluate_semantic_reads_a_result_bag(tmp_path, capsys):
    """A result bag scores exactly as the same predictions written as PNGs."""
    in_bag = make_input_bag(tmp_path, 'in', 2)
    out_bag = tmp_path / 'out'
    process_bag(in_bag, out_bag, box_pipeline())
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    pred_dir = tmp_path / 'pred'
    pred_dir.mkdir()
    labels = sample('camvid_samples', 'labels')
    semantic = read_rosbags(out_bag)['/cam/front/segmentation/semantic']
    for path, (_, msg) in zip(camvid_images(2), semantic):
        (gt_dir / path.name).symlink_to(labels / path.name)
        cv2.imwrite(str(pred_dir / path.name), bag_io.image_to_array(msg))
    from_bag = semantic_eval.evaluate_semantic(out_bag, gt_dir, 'camvid')
    from_pngs = semantic_eval.evaluate_semantic(pred_dir, gt_dir, 'camvid')
    assert from_bag.frames == from_pngs.frames == 2
    np.testing.assert_array_equal(from_bag.confusion, from_pngs.confusion)
    assert from_bag.confusion[semantic_eval.CAMVID_CLASSES.index('Road')].sum() > 0

    (gt_dir / 'extra.png').symlink_to(labels / camvid_images(3)[2].name)
    assert cli.main(['evaluate', 'semantic', '--pred', str(out_bag), '--gt', str(gt_dir),
                     '--format', 'camvid']) == 2
    assert 'holds 2 semantic frames but the ground truth has 3 files' in capsys.readouterr().err


def test_bag_errors_are_clear(tmp_path):
    with pytest.raises(bag_io.BagError, match='unknown storage'):
        bag_io.open_writer(tmp_path / 'x', 'rosbag1')
    with pytest.raises(bag_io.BagError, match='not a rosbag2'):
        process_bag(tmp_path, tmp_path / 'out', box_pipeline())
    bag = make_input_bag(tmp_path, 'in', 1)
    with pytest.raises(bag_io.BagError, match='/nope is not in the bag'):
        process_bag(bag, tmp_path / 'out', box_pipeline(), ['/nope'])
    with pytest.raises(bag_io.BagError, match='already exists'):
        process_bag(bag, bag, box_pipeline())
    empty = tmp_path / 'empty'
    with bag_io.open_writer(empty, 'sqlite3') as writer:
        writer.add_connection('/camera/image_raw', bag_io.IMAGE_TYPE,
                              typestore=bag_io.typestore())
    with pytest.raises(bag_io.BagError, match='hold no messages'):
        process_bag(empty, tmp_path / 'out2', box_pipeline())
    assert cli.main(['process', str(tmp_path / 'missing'), str(tmp_path / 'o')]) == 2


def test_params_file_reader(tmp_path):
    assert read_values(None)['input_width'] == 1024
    path = tmp_path / 'p.yaml'
    path.write_text('/**:\n  ros__parameters:\n    input_width: 512\n')
    assert read_values(path)['input_width'] == 512
    path.write_text('/**:\n  ros__parameters:\n    input_widht: 512\n')
    with pytest.raises(ValueError, match='unknown parameter'):
        read_values(path)
    path.write_text('seg_perception:\n  ros__parameters:\n    input_width: 512\n'
                    '    track_max_lost_s: 2.5\n')
    settings = read_file_settings(path, {'weights_dir': '/w'})
    assert settings.backend_options.input_width == 512
    assert settings.backend_options.weights_dirs == ('/w',)
    assert settings.tracker.max_lost_s == 2.5


def test_process_compressed_bag_and_skip_bad_frames(tmp_path):
    """A truncated image and a truncated message are skipped with warnings; the rest goes on."""
    store = bag_io.typestore()
    frames = [rgb for _, rgb in iter_frames(sample('camvid_samples', 'images'), 2)]
    bag = tmp_path / 'bad'
    with bag_io.open_writer(bag, 'mcap') as writer:
        raw_conn = writer.add_connection('/cam/image_raw', bag_io.IMAGE_TYPE, typestore=store)
        jpeg_conn = writer.add_connection('/cam2/image/compressed', bag_io.COMPRESSED_TYPE,
                                          typestore=store)
        for index in range(4):
            msg = make_bag.image_message(frames[index % 2], START_NS + index, 'cam', False)
            if index == 1:
                msg.data = msg.data[:100]
            raw = store.serialize_cdr(msg, bag_io.IMAGE_TYPE)
            writer.write(raw_conn, START_NS + index, raw[:50] if index == 2 else raw)
            jpeg = make_bag.image_message(frames[index % 2], START_NS + index, 'cam2', True)
            writer.write(jpeg_conn, START_NS + index,
                         store.serialize_cdr(jpeg, bag_io.COMPRESSED_TYPE))
    warnings = []
    stats = process_bag(bag, tmp_path / 'out', box_pipeline(), include_inputs=True,
                        warn=warnings.append)
    assert (stats.frames, stats.skipped) == (6, 2)
    assert len(warnings) == 2 and all('frame skipped' in w for w in warnings)
    out = read_rosbags(tmp_path / 'out')
    assert bag_io.bag_storage(tmp_path / 'out') == 'mcap'
    assert [stamp_ns(m) for _, m in out['/cam/segmentation/semantic']] == \
        [START_NS, START_NS + 3]
    assert [stamp_ns(m) for _, m in out['/cam2/segmentation/semantic']] == \
        [START_NS + i for i in range(4)]
    assert len(out['/cam2/image/compressed']) == 4 and len(out['/cam/image_raw']) == 4
    with bag_io.open_reader(tmp_path / 'out') as reader:
        latched = [c for c in reader.connections if c.topic.endswith('/label_info')]
        assert len(latched) == 2
        assert all(c.ext.offered_qos_profiles[0].durability == QosDurability.TRANSIENT_LOCAL
                   for c in latched)
    semantic = bag_io.image_to_array(out['/cam2/segmentation/semantic'][0][1])
    assert semantic.shape == frames[0].shape[:2] and semantic[0, 0] == ROAD


def write_result_bag(bag: Path, count: int = 2) -> None:
    """Write semantic, instances and detections (no overlay) as the node would record them."""
    store = bag_io.typestore()
    with bag_io.open_writer(bag, 'sqlite3') as writer:
        conns = {name: writer.add_connection(f'/cam/segmentation/{name}', msgtype,
                                             typestore=store)
                 for name, msgtype in (('semantic', bag_io.IMAGE_TYPE),
                                       ('instances', bag_io.IMAGE_TYPE),
                                       ('detections', 'vision_msgs/msg/Detection2DArray'))}
        for index in range(count):
            image = np.zeros((60, 80, 3), np.uint8)
            frame = Frame(image=image, stamp_ns=START_NS + index * 100_000_000, frame_id='cam')
            semantic = np.full((60, 80), ROAD, np.uint8)
            semantic[10:30, 20:50] = CAR
            instances = np.zeros((60, 80), np.uint16)
            instances[10:30, 20:50] = 7
            result = FrameResult(frame=frame, semantic=semantic, instances=instances,
                                 objects=(TrackedObject(7, CAR, 0.9, (20.0, 10.0, 50.0, 30.0)),))
            header = Image().header
            header.stamp.sec, header.stamp.nanosec = divmod(frame.stamp_ns, 1_000_000_000)
            header.frame_id = 'cam'
            for name, msg in (('semantic', array_to_image_msg(semantic, header, 'mono8')),
                              ('instances', array_to_image_msg(instances, header, 'mono16')),
                              ('detections', detections_msg(result, header))):
                writer.write(conns[name], frame.stamp_ns, serialize_message(msg))


def test_render_recomputes_overlay_with_labels(tmp_path):
    bag = tmp_path / 'result'
    write_result_bag(bag)
    assert cli.main(['render', str(bag), str(tmp_path / 'png')]) == 0
    pngs = sorted((tmp_path / 'png').glob('*.png'))
    assert len(pngs) == 2
    rgb = read_rgb(pngs[0])
    assert rgb.shape == (60, 80, 3)
    assert tuple(rgb[50, 5]) == tuple(taxonomy.palette()[ROAD])
    assert cli.main(['render', str(bag), str(tmp_path / 'r.mp4'), '--topic', '/cam']) == 0
    assert (tmp_path / 'r.mp4').stat().st_size > 0
    assert cli.main(['render', str(bag), str(tmp_path / 'x'), '--topic', '/other']) == 2


@pytest.mark.slow
@pytest.mark.parametrize('storage', bag_io.STORAGES)
def test_process_real_network_round_trip(tmp_path, storage, small_params,
                                         espnetv2_weights_dir):
    """Every output per frame, stamps kept, semantic equal to the offline pipeline's."""
    in_bag = make_input_bag(tmp_path, 'in', 2, storage)
    out_bag = tmp_path / 'out'
    assert cli.main(['process', str(in_bag), str(out_bag), '--params-file', str(small_params),
                     '--weights-dir', str(espnetv2_weights_dir)]) == 0
    inputs = read_rosbags(in_bag)['/cam/front/image_raw']
    input_stamps = [stamp_ns(m) for _, m in inputs]
    out = read_rosbags(out_bag)
    base = '/cam/front/segmentation/'
    lanes = ('lanes',) if lanes_available() else ()  # empty LaneArrays: ESPNetv2 has no lanes
    assert sorted(out) == sorted(base + name for name in OUTPUTS + ('label_info',) + lanes)
    for name in OUTPUTS:
        assert [t for t, _ in out[base + name]] == [t for t, _ in inputs]
        if name == 'markers':  # MarkerArray has no header; each marker has the input's
            for (_, msg), stamp in zip(out[base + name], input_stamps):
                assert all(stamp_ns(marker) == stamp for marker in msg.markers)
            continue
        assert [stamp_ns(m) for _, m in out[base + name]] == input_stamps
        assert all(m.header.frame_id == 'camera_optical_frame' for _, m in out[base + name])
    assert len(out[base + 'label_info']) == 1
    names = {c.class_name for c in out[base + 'label_info'][0][1].class_map}
    assert {'road', 'car', 'person', 'unlabeled'} <= names

    pipeline, _ = pipeline_from_file(small_params, str(espnetv2_weights_dir))
    for path, (_, msg) in zip(camvid_images(2), out[base + 'semantic']):
        expected = pipeline.process(Frame(image=read_rgb(path))).semantic
        np.testing.assert_array_equal(bag_io.image_to_array(msg), expected)

    if storage == 'mcap':
        raw = read_mcap(out_bag)
        assert {t: len(v) for t, v in raw.items()} == {t: len(v) for t, v in out.items()}
        for log_time, schema, data in raw[base + 'detections']:
            assert schema == 'vision_msgs/msg/Detection2DArray'
            assert stamp_ns(deserialize_message(data, Detection2DArray)) == log_time
        semantic = deserialize_message(raw[base + 'semantic'][0][2], Image)
        assert (semantic.encoding, semantic.width, semantic.height) == ('mono8', 480, 360)

    assert cli.main(['render', str(out_bag), str(tmp_path / 'video.mp4')]) == 0
    assert (tmp_path / 'video.mp4').stat().st_size > 0


@pytest.mark.parametrize('command', ['make-bag', 'process', 'render'])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, '--help'])
    assert exit_info.value.code == 0
    assert 'usage: seg-perception ' + command in capsys.readouterr().out
