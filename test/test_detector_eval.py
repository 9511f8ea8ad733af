"""Real YOLOX-Nano weights on real frames, and the evaluations on small synthetic folders."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from sample_data import sample
from test_detector_fusion import detections, FixedDetector, FixedSemantic

from seg_perception import taxonomy
from seg_perception.backends.base import BackendOptions, DetectorOptions
from seg_perception.backends.detected_instances import DetectionFusionSegmenter
from seg_perception.backends.detection_fusion import FusionOptions
from seg_perception.tools import box_eval, cli, panoptic_eval
from seg_perception.tools.image_eval import COMPONENTS, FUSION, predict
from seg_perception.tools.image_source import read_rgb

ROAD, CAR, PERSON, BUS = (taxonomy.class_id(n) for n in ('road', 'car', 'person', 'bus'))
VEHICLES = {taxonomy.class_id(n) for n in ('car', 'truck', 'bus', 'train')}


@pytest.fixture(scope='module')
def yolox_path() -> Path:
    return sample('weights', 'yolox_nano', 'yolox_nano.onnx')


@pytest.fixture(scope='module')
def detector(yolox_path):
    pytest.importorskip('onnxruntime')
    from seg_perception.backends.yolox_onnx import YoloxOnnxDetector
    return YoloxOnnxDetector(yolox_path, device='cpu')


def camvid_frame() -> np.ndarray:
    return read_rgb(sample('camvid_samples', 'images', '0001TP_009000.png'))


# --- real weights ------------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_yolox_nano_finds_the_bus_the_car_and_the_pedestrians_of_camvid(detector):
    assert detector.input_size == (416, 416) and detector.providers == ('CPUExecutionProvider',)
    found = detector.detect(camvid_frame())
    names = [taxonomy.CLASS_BY_ID[int(c)].name for c in found.class_ids]
    scores = dict(zip(names[::-1], found.scores[::-1]))  # best score of each class
    assert scores['bus'] > 0.8 and scores['car'] > 0.7 and names.count('person') >= 2
    bus, car = (found.boxes[names.index(n)] for n in ('bus', 'car'))
    assert car[3] > bus[3] and car[0] < bus[0]  # the car is in front, left of the bus
    assert (found.boxes[:, 2] <= 480).all() and (found.boxes[:, 3] <= 360).all()


@pytest.mark.timeout(60)
def test_the_extended_graph_gives_the_exported_graphs_rows_bit_for_bit(detector, yolox_path):
    import onnxruntime
    from seg_perception.backends import yolox_onnx
    from seg_perception.backends.yolox_graph import IMAGE_INPUT
    exported = onnxruntime.InferenceSession(str(yolox_path), providers=['CPUExecutionProvider'])
    canvas, _ = yolox_onnx.letterbox(camvid_frame(), detector.input_size)
    blob = np.ascontiguousarray(canvas[:, :, ::-1].transpose(2, 0, 1)[None], np.float32)
    raw = exported.run(None, {exported.get_inputs()[0].name: blob})[0][0]
    box_raw, score, best = detector.session.run(None, {IMAGE_INPUT: canvas[None]})
    np.testing.assert_array_equal(box_raw[0], raw[:, :4])
    np.testing.assert_array_equal(best[0, :, 0], raw[:, 5:].argmax(axis=1))
    np.testing.assert_array_equal(score[0, :, 0], raw[:, 4] * raw[:, 5:].max(axis=1))
    assert (score > 0.3).sum() >= 5  # the frame's bus, car and pedestrians are in there


@pytest.mark.timeout(120)
def test_tiles_find_a_distant_kitti_car_the_full_frame_pass_misses(detector):
    image = read_rgb(sample('kitti_object', 'images', '000001.png'))
    labels = box_eval.read_kitti_labels(sample('kitti_object', 'gt', '000001.txt'))
    car = np.array([box for kind, box in labels if kind == 'Car'])

    def best_iou(found):
        boxes = found.boxes[found.class_ids == CAR]
        return box_eval.box_iou(car, boxes).max(initial=0.0)

    assert best_iou(detector.detect(image, tile_rows=0)) < 0.5
    assert best_iou(detector.detect(image, tile_rows=2)) >= 0.5


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_espnetv2_with_yolox_splits_the_car_from_the_bus(yolox_path, espnetv2_weights_dir):
    from seg_perception.backends.registry import create_backend
    options = BackendOptions(
        weights_dirs=(str(espnetv2_weights_dir), str(yolox_path.parent)), device='cpu',
        allow_download=False, input_width=480, input_height=352,
        detector=DetectorOptions(name='yolox'))
    segmenter = create_backend('espnetv2', options)
    try:
        assert isinstance(segmenter, DetectionFusionSegmenter)
        image = camvid_frame()
        fused = segmenter.segment([image])[0]
        found = segmenter.detector.detect(image)
    finally:
        segmenter.release()
    names = [taxonomy.CLASS_BY_ID[int(c)].name for c in found.class_ids]
    scale = np.array([480 / 480, 352 / 360] * 2)
    ids = []
    for name in ('bus', 'car'):
        x0, y0, x1, y1 = (found.boxes[names.index(name)] * scale).astype(int)
        inside = fused.instance_map[y0:y1, x0:x1]
        values, counts = np.unique(inside[inside > 0], return_counts=True)
        ids.append(int(values[np.argmax(counts)]))
    assert ids[0] != ids[1]
    by_id = {s.segment_id: s for s in fused.segments}
    assert {by_id[i].class_id for i in ids} <= VEHICLES
    # Each instance's box holds its detection's box, grown where a sliver joined the instance,
    # so that it encloses every pixel of the instance.
    for segment_id in ids:
        box = np.array(by_id[segment_id].bbox)
        assert any(np.all(box[:2] <= detection[:2] + 1e-3) and
                   np.all(box[2:] >= detection[2:] - 1e-3) for detection in found.boxes)
        rows, cols = np.nonzero(fused.instance_map == segment_id)
        x_range = np.array([cols.min(), cols.max() + 1]) / scale[0]
        y_range = np.array([rows.min(), rows.max() + 1]) / scale[1]
        assert box[0] <= x_range[0] + 1e-3 and x_range[1] <= box[2] + 1e-3
        assert box[1] <= y_range[0] + 1e-3 and y_range[1] <= box[3] + 1e-3


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_evaluate_boxes_cli_prints_components_beside_fusion_on_kitti(
        tmp_path, capsys, yolox_path, espnetv2_weights_dir):
    pytest.importorskip('rclpy')
    kitti = sample('kitti_object')
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    input_width: 512\n    input_height: 256\n'
                      '    allow_download: false\n    device: cpu\n    backend: espnetv2\n'
                      '    detector: yolox\n'
                      '    detector_tile_rows: 1\n')
    assert cli.main(['evaluate', 'boxes', '--kitti-root', str(kitti), '--params-file',
                     str(params), '--weights-dir',
                     f'{espnetv2_weights_dir}:{yolox_path.parent}', '--json']) == 0
    out = capsys.readouterr().out
    results = json.loads(out.strip().splitlines()[-1])
    assert results['frames'] == len(list((kitti / 'gt').glob('*.txt')))
    labelled = sum(kind == 'Car' for path in (kitti / 'gt').glob('*.txt')
                   for kind, _ in box_eval.read_kitti_labels(path))
    for variant in (COMPONENTS, FUSION):
        car = results[variant]['car']
        assert car['tp'] + car['fn'] == labelled
    assert results[FUSION]['car']['recall'] > results[COMPONENTS]['car']['recall']
    assert 'components recall / precision' in out and 'fusion recall / precision' in out


# --- evaluations on synthetic folders ----------------------------------------------------------

def two_touching_cars():
    semantic = np.full((40, 80), ROAD, np.uint8)
    semantic[10:30, 10:70] = CAR
    found = detections([(10, 10, 40, 30, 0.9, CAR), (40, 10, 70, 30, 0.7, CAR)])
    return DetectionFusionSegmenter(FixedSemantic(semantic), FixedDetector(found),
                                    DetectorOptions('yolox'), FusionOptions(min_area_px=1))


@pytest.mark.timeout(30)
def test_panoptic_eval_of_an_image_folder_scores_fusion_beside_components(tmp_path):
    images, gt = tmp_path / 'images', tmp_path / 'gt'
    images.mkdir()
    gt.mkdir()
    cv2.imwrite(str(images / 'town_000000_000001_leftImg8bit.png'), np.zeros((40, 80, 3)))
    truth = np.full((40, 80), 7, np.uint16)  # road
    truth[10:30, 10:40] = 26001  # two cars (label id 26), side by side
    truth[10:30, 40:70] = 26002
    cv2.imwrite(str(gt / 'town_000000_000001_gtFine_instanceIds.png'), truth)
    totals = panoptic_eval.evaluate_images(two_touching_cars(), images, gt)
    car = panoptic_eval.CLASS_NAMES.index('car')
    assert (totals[FUSION].tp[car], totals[FUSION].fp[car], totals[FUSION].fn[car]) == (2, 0, 0)
    assert (totals[COMPONENTS].tp[car], totals[COMPONENTS].fp[car],
            totals[COMPONENTS].fn[car]) == (0, 1, 2)  # one merged blob: IoU 0.5 with each
    assert panoptic_eval.car_person_pq(totals[FUSION]) == pytest.approx(1.0)
    assert 'car+person' in panoptic_eval.format_side_by_side(totals)


@pytest.mark.timeout(30)
def test_kitti_box_eval_counts_hits_misses_and_ignores_dont_care(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'gt').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / '000000.png'), np.zeros((40, 80, 3)))
    (tmp_path / 'gt' / '000000.txt').write_text(
        'Car 0.00 0 0 11 10 40 30 1 1 1 0 0 10 0\n'
        'Car 0.00 0 0 41 10 70 30 1 1 1 0 0 10 0\n'
        'Pedestrian 0.00 0 0 72 5 78 35 1 1 1 0 0 10 0\n'
        'DontCare -1 -1 -10 0 0 9 9 -1 -1 -1 -1000 -1000 -1000 -10\n')
    results = box_eval.evaluate_kitti(two_touching_cars(), tmp_path)
    assert results['frames'] == 1
    assert results[FUSION]['car'] == {'tp': 2, 'fp': 0, 'fn': 0, 'recall': 1.0,
                                      'precision': 1.0}
    assert results[COMPONENTS]['car']['tp'] == 0 and results[COMPONENTS]['car']['fn'] == 2
    assert results[FUSION]['pedestrian']['fn'] == 1
    assert results[FUSION]['pedestrian']['recall'] == 0.0
    assert results[FUSION]['pedestrian']['precision'] is None
    assert 'fusion recall / precision' in box_eval.format_table(results)


@pytest.mark.timeout(10)
def test_unmatched_boxes_on_dont_care_or_vans_are_not_false_positives():
    from seg_perception.structures import Segment
    labels = [('Van', np.array([0., 0, 20, 20])), ('DontCare', np.array([50., 0, 80, 30])),
              ('Car', np.array([100., 0, 120, 20]))]
    segments = [Segment(1, CAR, 0.9, (1, 1, 20, 20), 1), Segment(2, CAR, 0.8, (55, 5, 75, 25), 1),
                Segment(3, CAR, 0.7, (200, 0, 220, 20), 1),
                Segment(4, CAR, 0.6, (101, 0, 120, 20), 1)]
    assert box_eval.match_frame(segments, labels)['car'] == {'tp': 1, 'fp': 1, 'fn': 0}


@pytest.mark.timeout(30)
def test_through_the_tracker_only_instances_confirmed_in_their_first_frame_keep_an_id(tmp_path):
    from seg_perception.tracking import TrackerConfig
    segmenter = two_touching_cars()  # boxes 0.9 and 0.7, on connected components scored 1.0
    segmenter.fusion = FusionOptions(min_area_px=1, combine_scores=False)
    image = np.zeros((40, 80, 3), np.uint8)
    node = predict(segmenter, [image], TrackerConfig(confirm_score=0.8))[0]
    assert [s.score for s in node[FUSION].segments] == pytest.approx([0.9])
    assert len(np.unique(node[FUSION].instances[10:30, 40:70])) == 1  # the 0.7 car: no id
    assert (node[FUSION].instances[10:30, 40:70] == 0).all()
    assert len(node[COMPONENTS].segments) == 1  # the blob scored 1.0
    segmenter.fusion = FusionOptions(min_area_px=1)  # 1 - (1 - 0.7) (1 - 1.0) = 1.0
    combined = predict(segmenter, [image], TrackerConfig(confirm_score=0.8))[0]
    assert len(combined[FUSION].segments) == 2
