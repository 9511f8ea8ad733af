"""YOLOX decoding, NMS and tiling, and the detection-guided fusion rules, on small arrays."""

import math

import cv2
import numpy as np
import pytest

from seg_perception import paths, taxonomy
from seg_perception.backends import yolox_onnx
from seg_perception.backends.base import BackendError, BackendOptions, DetectorOptions, Segmenter
from seg_perception.backends.detected_instances import (DetectionFusionSegmenter,
                                                        find_detector_weights, with_detector,
                                                        YOLOX_NANO)
from seg_perception.backends.detection_fusion import claim_order, fuse_detections, FusionOptions
from seg_perception.backends.yolox_onnx import Detections
from seg_perception.components import panoptic_from_semantic
from seg_perception.weights import file_sha256

C = taxonomy.class_id
ROAD, BUILDING, CAR, BUS, PERSON, RIDER, TRUCK = (
    C('road'), C('building'), C('car'), C('bus'), C('person'), C('rider'), C('truck'))
COCO_CAR, COCO_DOG = 2, 16


def detections(rows):
    """Build detections from ``[(x0, y0, x1, y1, score, canonical class id), ...]``."""
    rows = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return Detections(rows[:, :4].astype(np.float32), rows[:, 4].astype(np.float32),
                      rows[:, 5].astype(np.uint8))


# --- decoding, NMS, letterbox, tiles -----------------------------------------------------------

@pytest.mark.timeout(10)
def test_anchor_grid_has_the_rows_of_the_three_strides():
    cells, strides = yolox_onnx.anchor_grid((416, 416))
    assert cells.shape == (3549, 2) and strides.shape == (3549, 1)
    assert yolox_onnx.anchor_grid((640, 640))[0].shape[0] == 8400
    # row-major within the stride-8 grid: row 1 starts after the 52 cells of row 0
    assert tuple(cells[52]) == (0, 1) and strides[0, 0] == 8 and strides[-1, 0] == 32
    assert tuple(cells[-1]) == (12, 12)


@pytest.mark.timeout(10)
def test_decode_outputs_places_boxes_on_their_grid_cell_and_keeps_mapped_classes_only():
    cells, strides = yolox_onnx.anchor_grid((64, 64))  # 8x8 + 4x4 + 2x2 = 84 rows
    raw = np.zeros((cells.shape[0], 85), np.float32)
    car_row = 2 * 8 + 3  # stride 8, cell column 3, row 2
    raw[car_row, :5] = [0.5, 0.5, math.log(4.0), math.log(2.0), 0.9]
    raw[car_row, 5 + COCO_CAR] = 0.8
    dog_row = 10  # a confident dog: no canonical class, dropped
    raw[dog_row, 4], raw[dog_row, 5 + COCO_DOG] = 0.99, 0.99
    weak_row = 70  # a car below the threshold
    raw[weak_row, 4], raw[weak_row, 5 + COCO_CAR] = 0.3, 0.5
    best_class = raw[:, 5:].argmax(axis=1)
    best_score = raw[:, 4] * raw[:, 5:].max(axis=1)
    boxes, scores, classes = yolox_onnx.decode_outputs(
        raw[:, :4], best_score, best_class, cells, strides, yolox_onnx.coco_to_canonical(), 0.3)
    assert boxes.shape == (1, 4)
    # centre ((0.5 + 3) * 8, (0.5 + 2) * 8) = (28, 20); size (4 * 8, 2 * 8) = (32, 16)
    np.testing.assert_allclose(boxes[0], [12, 12, 44, 28], atol=1e-4)
    assert scores[0] == pytest.approx(0.72) and classes[0] == CAR
    # a class past the table (a model with more classes than COCO's 80) is dropped, not an error
    best_class[car_row] = 85
    assert yolox_onnx.decode_outputs(raw[:, :4], best_score, best_class, cells, strides,
                                     yolox_onnx.coco_to_canonical(), 0.3)[0].shape == (0, 4)


def tiny_yolox_like_graph(opset: int, elem_type: int = 1):
    """Build an ONNX graph shaped like YOLOX's: [1, 3, 2, 2] float -> [1, 2, 6] rows (A=2, C=1).

    Row ``a`` holds the input's values ``6a .. 6a + 5`` in channel-major order, so each output
    value names the input pixel and channel it came from.
    """
    pytest.importorskip('onnx')
    from onnx import helper, TensorProto
    shape = helper.make_tensor('shape', TensorProto.INT64, [3], [1, 2, 6])
    graph = helper.make_graph(
        [helper.make_node('Reshape', ['images', 'shape'], ['output'])], 'tiny',
        [helper.make_tensor_value_info('images', elem_type, [1, 3, 2, 2])],
        [helper.make_tensor_value_info('output', elem_type, [1, 2, 6])], [shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)])


@pytest.mark.timeout(20)
@pytest.mark.parametrize('opset, elem_type', [(11, 1), (18, 1), (13, 10)])  # 10: float16
def test_the_graph_takes_uint8_rgb_and_returns_each_rows_best_class_and_score(opset, elem_type):
    onnxruntime = pytest.importorskip('onnxruntime')
    from seg_perception.backends import yolox_graph
    model, size, classes = yolox_graph.with_host_work_inside(
        tiny_yolox_like_graph(opset, elem_type))
    assert size == (2, 2) and classes == 1
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=['CPUExecutionProvider'])
    rgb = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3) * 10
    box_raw, score, best = session.run(None, {yolox_graph.IMAGE_INPUT: rgb})
    # the network sees BGR planes: B (rgb[..., 2]) first, then G, then R
    rows = np.concatenate([rgb[0, :, :, c].ravel() for c in (2, 1, 0)]).reshape(2, 6) * 1.0
    np.testing.assert_array_equal(box_raw[0], rows[:, :4])
    np.testing.assert_array_equal(score[0, :, 0], rows[:, 4] * rows[:, 5])
    np.testing.assert_array_equal(best[0, :, 0], [0, 0])


@pytest.mark.timeout(10)
def test_graphs_not_shaped_like_yolox_are_refused():
    pytest.importorskip('onnx')
    from onnx import helper, TensorProto
    from seg_perception.backends import yolox_graph
    graph = helper.make_graph(
        [helper.make_node('Identity', ['images'], ['output'])], 'open',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 'h', 'w'])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, [1, 3, 'h', 'w'])])
    with pytest.raises(BackendError, match='fixed H and W'):
        yolox_graph.with_host_work_inside(helper.make_model(graph))
    model = tiny_yolox_like_graph(11)
    model.graph.output[0].type.tensor_type.shape.dim[2].dim_value = 5
    with pytest.raises(BackendError, match=r'not \[1, A, 5 \+ C\]'):
        yolox_graph.with_host_work_inside(model)


@pytest.mark.timeout(10)
def test_coco_classes_map_to_canonical_ones():
    table = yolox_onnx.coco_to_canonical()
    names = yolox_onnx.COCO_NAMES
    expected = {'person': 'person', 'bicycle': 'bicycle', 'car': 'car',
                'motorcycle': 'motorcycle', 'bus': 'bus', 'train': 'train', 'truck': 'truck',
                'traffic light': 'traffic_light', 'stop sign': 'traffic_sign'}
    for index, name in enumerate(names):
        wanted = C(expected[name]) if name in expected else taxonomy.UNLABELED
        assert table[index] == wanted, name


@pytest.mark.timeout(10)
def test_batched_nms_suppresses_within_a_class_only():
    found = detections([(0, 0, 10, 10, 0.6, CAR), (1, 1, 11, 11, 0.9, CAR),
                        (0, 0, 10, 10, 0.5, PERSON), (50, 50, 60, 60, 0.4, CAR)])
    kept = yolox_onnx.batched_nms(found, 0.45)
    assert kept.scores.tolist() == pytest.approx([0.9, 0.5, 0.4])
    assert kept.class_ids.tolist() == [CAR, PERSON, CAR]


@pytest.mark.timeout(10)
def test_letterbox_keeps_the_aspect_and_pads_bottom_right():
    image = np.full((100, 200, 3), 7, np.uint8)
    canvas, scale = yolox_onnx.letterbox(image, (416, 416))
    assert canvas.shape == (416, 416, 3) and scale == pytest.approx(2.08)
    assert (canvas[:208] == 7).all() and (canvas[208:] == yolox_onnx.PAD_VALUE).all()
    # a tall image: resized into the canvas's left columns (a strided window), padded right
    tall = np.random.default_rng(0).integers(0, 256, (300, 60, 3), dtype=np.uint8)
    canvas, scale = yolox_onnx.letterbox(tall, (416, 416))
    expected = cv2.resize(tall, (83, 416), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(canvas[:, :83], expected)
    assert (canvas[:, 83:] == yolox_onnx.PAD_VALUE).all()


@pytest.mark.timeout(10)
@pytest.mark.parametrize('size, rows, grid', [
    ((1024, 2048), 1, (1, 2)), ((1024, 2048), 2, (2, 4)), ((375, 1242), 1, (1, 3)),
    ((1080, 1920), 1, (1, 2)), ((1080, 1920), 2, (2, 3))])
def test_tile_windows_cover_the_image_with_overlap(size, rows, grid):
    windows = yolox_onnx.tile_windows(size, rows, 0.2)
    assert len(windows) == grid[0] * grid[1]
    covered = np.zeros(size, int)
    for x0, y0, x1, y1 in windows:
        covered[y0:y1, x0:x1] += 1
    assert (covered >= 1).all() and (covered >= 2).any()
    assert max(w[2] for w in windows) == size[1] and max(w[3] for w in windows) == size[0]


@pytest.mark.timeout(10)
def test_no_tiles_when_one_tile_would_be_the_frame():
    assert yolox_onnx.tile_windows((1024, 2048), 0, 0.2) == []
    assert yolox_onnx.tile_windows((400, 400), 1, 0.2) == []


@pytest.mark.timeout(10)
def test_tile_detections_cut_by_an_inner_tile_edge_are_dropped():
    window = (100, 0, 300, 200)  # a tile with image edges at its top and bottom only
    found = detections([(100, 50, 150, 90, 0.9, CAR),    # touches the inner left edge: cut
                        (200, 0, 250, 60, 0.8, CAR),     # touches the image's top: kept
                        (150, 50, 200, 100, 0.7, CAR),   # inside: kept
                        (260, 10, 299, 40, 0.6, CAR)])   # touches the inner right edge: cut
    kept = yolox_onnx.drop_cut_boxes(found, window, (200, 1000))
    assert kept.scores.tolist() == pytest.approx([0.8, 0.7])


@pytest.mark.timeout(10)
def test_execution_providers_follow_the_device():
    gpu = ['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']
    assert yolox_onnx.select_providers('cpu', gpu) == ['CPUExecutionProvider']
    assert yolox_onnx.select_providers('auto', gpu) == gpu
    assert yolox_onnx.select_providers('auto', ['CPUExecutionProvider']) == [
        'CPUExecutionProvider']


# --- fusion rules ------------------------------------------------------------------------------

def fuse(semantic, rows, options=FusionOptions(min_area_px=1, leftover_min_fraction=0.0,
                                               combine_scores=False),
         image_size=None, confidence=None):
    semantic = np.asarray(semantic, np.uint8)
    primary = panoptic_from_semantic(semantic, semantic.shape, 1, confidence)
    return fuse_detections(semantic, detections(rows), image_size or semantic.shape, options,
                           primary)


def instance_ids(result, box):
    x0, y0, x1, y1 = box
    ids = np.unique(result.instance_map[y0:y1, x0:x1])
    return set(ids[ids > 0].tolist())


@pytest.mark.timeout(10)
def test_touching_cars_become_one_instance_per_detection_with_its_box_and_score():
    semantic = np.full((40, 80), ROAD, np.uint8)
    semantic[10:30, 10:70] = CAR  # two cars side by side: one connected blob
    result = fuse(semantic, [(10, 10, 40, 30, 0.9, CAR), (40, 10, 70, 30, 0.7, CAR)])
    assert len(result.segments) == 2
    left, right = instance_ids(result, (10, 10, 40, 30)), instance_ids(result, (40, 10, 70, 30))
    assert len(left) == len(right) == 1 and left != right
    by_id = {s.segment_id: s for s in result.segments}
    assert by_id[left.pop()].bbox == (10.0, 10.0, 40.0, 30.0)
    assert by_id[right.pop()].score == pytest.approx(0.7)
    assert set(np.unique(result.instance_map)) == {0, 1, 2}


@pytest.mark.timeout(10)
def test_a_supported_instance_scores_the_detector_and_the_segmentation_together():
    semantic = np.full((40, 80), ROAD, np.uint8)
    semantic[10:30, 10:30] = CAR
    confidence = np.full(semantic.shape, 0.5, np.float32)
    rows = [(10, 10, 30, 30, 0.4, CAR), (50, 5, 70, 35, 0.9, PERSON)]  # the person: no support
    result = fuse(semantic, rows, FusionOptions(min_area_px=1), confidence=confidence)
    scores = {s.class_id: s.score for s in result.segments}
    assert scores[CAR] == pytest.approx(1 - 0.6 * 0.5) and scores[PERSON] == pytest.approx(0.9)
    alone = fuse(semantic, rows, confidence=confidence)
    assert {s.class_id: s.score for s in alone.segments}[CAR] == pytest.approx(0.4)


@pytest.mark.timeout(10)
def test_the_nearer_object_keeps_its_pixels_and_the_one_behind_gets_the_rest():
    semantic = np.full((60, 60), ROAD, np.uint8)
    semantic[5:40, 5:55] = BUS
    semantic[25:50, 20:40] = CAR  # in front: its box bottom is lower
    result = fuse(semantic, [(5, 5, 55, 40, 0.95, BUS), (20, 25, 40, 50, 0.6, CAR)])
    classes = {s.class_id: s.segment_id for s in result.segments}
    assert set(classes) == {BUS, CAR}
    assert (result.instance_map[25:50, 20:40] == classes[CAR]).all()
    assert (result.instance_map[5:25, 5:55] == classes[BUS]).all()
    assert claim_order(np.array([[0, 0, 1, 10], [0, 0, 1, 20]], float),
                       np.array([0.9, 0.1])).tolist() == [1, 0]


@pytest.mark.timeout(10)
def test_an_instance_takes_the_semantic_majority_of_its_group():
    semantic = np.full((40, 40), ROAD, np.uint8)
    semantic[5:35, 10:20] = RIDER  # COCO has no rider: the detector says person
    result = fuse(semantic, [(10, 5, 20, 35, 0.8, PERSON)])
    assert [s.class_id for s in result.segments] == [RIDER]
    detector_class = fuse(semantic, [(10, 5, 20, 35, 0.8, PERSON)],
                          FusionOptions(min_area_px=1, class_from_detector=True))
    assert [s.class_id for s in detector_class.segments] == [PERSON]
    assert (detector_class.semantic[5:35, 10:20] == PERSON).all()


@pytest.mark.timeout(10)
def test_a_blob_no_detection_explains_stays_an_instance_scored_by_the_backend():
    semantic = np.full((40, 80), ROAD, np.uint8)
    semantic[10:30, 5:25] = CAR
    semantic[10:30, 50:70] = CAR  # no detection here
    result = fuse(semantic, [(5, 10, 25, 30, 0.9, CAR)])
    assert len(result.segments) == 2
    leftover = [s for s in result.segments if s.score == pytest.approx(1.0)]
    assert len(leftover) == 1 and leftover[0].bbox == (50.0, 10.0, 70.0, 30.0)
    # small unexplained blobs are dropped by the leftover area rule
    strict = fuse(semantic, [(5, 10, 25, 30, 0.9, CAR)],
                  FusionOptions(min_area_px=1, leftover_min_fraction=0.2))
    assert len(strict.segments) == 1


@pytest.mark.timeout(10)
def test_a_sliver_outside_a_tight_box_joins_its_instance():
    semantic = np.full((40, 80), ROAD, np.uint8)
    semantic[10:30, 10:42] = CAR  # the box stops 2 px short of the car's right edge
    result = fuse(semantic, [(10, 10, 40, 30, 0.9, CAR)])
    assert len(result.segments) == 1
    assert (result.instance_map[10:30, 10:42] == 1).all()
    apart = fuse(semantic, [(10, 10, 40, 30, 0.9, CAR)],
                 FusionOptions(min_area_px=1, leftover_min_fraction=0.0, sliver_fraction=0.0))
    assert len(apart.segments) == 2


@pytest.mark.timeout(10)
def test_a_confident_detection_without_semantic_support_gets_its_inscribed_ellipse():
    semantic = np.full((60, 60), BUILDING, np.uint8)
    result = fuse(semantic, [(10, 10, 30, 50, 0.8, PERSON)])
    assert len(result.segments) == 1 and result.segments[0].class_id == PERSON
    mask = result.instance_map == 1
    assert mask[30, 20] and not mask[10, 10] and not mask[49, 29]  # centre in, corners out
    assert mask.sum() == pytest.approx(math.pi * 10 * 20, rel=0.05)
    assert (result.semantic[mask] == PERSON).all()
    assert fuse(semantic, [(10, 10, 30, 50, 0.4, PERSON)]).segments == ()


@pytest.mark.timeout(10)
def test_a_second_box_on_an_already_claimed_vehicle_adds_no_instance():
    semantic = np.full((40, 40), ROAD, np.uint8)
    semantic[10:30, 10:30] = CAR
    result = fuse(semantic, [(10, 10, 30, 30, 0.9, CAR), (10, 10, 30, 30, 0.5, TRUCK)])
    assert len(result.segments) == 1 and result.segments[0].class_id == CAR


@pytest.mark.timeout(10)
def test_boxes_scale_to_the_working_resolution_and_back():
    semantic = np.full((20, 40), ROAD, np.uint8)
    semantic[5:15, 10:20] = CAR  # input is 4x larger: the car is at (40, 20)-(80, 60)
    result = fuse(semantic, [(40, 20, 80, 60, 0.9, CAR)],
                  FusionOptions(min_area_px=64, leftover_min_fraction=0.0),
                  image_size=(80, 160))
    assert len(result.segments) == 1
    assert result.segments[0].bbox == (40.0, 20.0, 80.0, 60.0)
    assert result.segments[0].area == pytest.approx(100 * 16)
    assert (result.instance_map[5:15, 10:20] == 1).all()


# --- the wrapper, weights, parameters ----------------------------------------------------------

class FixedSemantic(Segmenter):
    name = 'fixed'

    def __init__(self, semantic):
        self.semantic_map = semantic
        self.released = 0

    @property
    def class_ids(self):
        return (ROAD, CAR)

    def segment(self, images):
        return tuple(panoptic_from_semantic(self.semantic_map, image.shape[:2], 1)
                     for image in images)

    def release(self):
        self.released += 1


class FixedDetector:
    def __init__(self, found):
        self.found = found
        self.calls = []

    def detect(self, image, tile_rows=0, tile_overlap=0.2):
        self.calls.append((image.shape, tile_rows, tile_overlap))
        return self.found


@pytest.mark.timeout(10)
def test_wrapper_fuses_each_image_and_passes_the_tiling_options():
    semantic = np.full((40, 80), ROAD, np.uint8)
    semantic[10:30, 10:70] = CAR
    detector = FixedDetector(detections([(10, 10, 40, 30, 0.9, CAR), (40, 10, 70, 30, 0.7, CAR)]))
    wrapped = FixedSemantic(semantic)
    segmenter = DetectionFusionSegmenter(wrapped, detector, DetectorOptions('yolox', tile_rows=2),
                                         FusionOptions(min_area_px=1))
    images = [np.zeros((40, 80, 3), np.uint8)] * 2
    fused, primary = segmenter.segment_with_primary(images)
    assert [len(r.segments) for r in fused] == [2, 2]
    assert [len(r.segments) for r in primary] == [1, 1]  # connected components: one blob
    assert detector.calls == [((40, 80, 3), 2, 0.2)] * 2
    assert set(segmenter.last_timings_ms) == {'semantic', 'detect', 'fuse'}
    assert CAR in segmenter.class_ids and C('traffic_sign') in segmenter.class_ids
    assert segmenter.name == 'fixed+yolox'
    assert segmenter.engine_description == ''  # neither names an engine
    detector.providers = ('CPUExecutionProvider',)
    wrapped.engine_description, wrapped.parallel_frames = 'openvino CPU bf16, 2 streams', 2
    logged = DetectionFusionSegmenter(wrapped, detector, DetectorOptions('yolox'))
    assert logged.engine_description == \
        'openvino CPU bf16, 2 streams + yolox onnxruntime CPUExecutionProvider'
    assert logged.parallel_frames == 2  # the node batches by the wrapped backend's
    segmenter.release()
    assert wrapped.released == 1


@pytest.mark.timeout(10)
def test_without_a_detector_the_backend_is_returned_as_is_and_unknown_names_fail():
    backend = FixedSemantic(np.zeros((4, 4), np.uint8))
    assert with_detector(backend, BackendOptions()) is backend
    with pytest.raises(BackendError, match='unknown detector'):
        with_detector(backend, BackendOptions(detector=DetectorOptions(name='yolov9')))


@pytest.mark.timeout(10)
def test_missing_detector_weights_name_the_file_and_the_places(tmp_path, monkeypatch):
    monkeypatch.setenv('SEG_PERCEPTION_WEIGHTS_DIR', str(tmp_path / 'cache'))
    with pytest.raises(BackendError, match='yolox_nano.onnx not found.*detector_weights') as info:
        find_detector_weights(DetectorOptions('yolox'), [str(tmp_path)])
    # What to fetch, from where, and its checksum: the same file as the sample weights.
    assert YOLOX_NANO.url in str(info.value) and YOLOX_NANO.sha256 in str(info.value)
    sample_file = paths.sample_path('weights', 'yolox_nano', 'yolox_nano.onnx')
    if sample_file is not None:
        assert file_sha256(sample_file) == YOLOX_NANO.sha256
    with pytest.raises(BackendError, match='nothing.onnx does not exist'):
        find_detector_weights(
            DetectorOptions('yolox', weights_path=str(tmp_path / 'nothing.onnx')))
    (tmp_path / 'yolox_nano').mkdir()
    (tmp_path / 'yolox_nano' / 'yolox_nano.onnx').write_bytes(b'x')
    assert find_detector_weights(DetectorOptions('yolox'), [str(tmp_path)]) == (
        tmp_path / 'yolox_nano' / 'yolox_nano.onnx')
    with pytest.raises(BackendError, match='cannot read .*yolox_nano.onnx as an ONNX graph'):
        yolox_onnx.YoloxOnnxDetector(tmp_path / 'yolox_nano' / 'yolox_nano.onnx', device='cpu')


@pytest.mark.timeout(30)
def test_detector_parameters_reach_the_backend_options():
    from seg_perception import paths
    from seg_perception.settings_file import read_file_settings
    settings = read_file_settings(paths.repo_root() / 'config' / 'espnetv2_yolox.yaml')
    detector = settings.backend_options.detector
    assert (detector.name, detector.tile_rows, detector.score_threshold) == ('yolox', 2, 0.3)
    # The node's default fuses YOLOX with two tile rows; '' turns the detector off.
    default = read_file_settings(None).backend_options.detector
    assert (default.name, default.tile_rows) == ('yolox', 2)
    assert read_file_settings(None, {'detector': ''}).backend_options.detector.name == ''
    with pytest.raises(ValueError, match='parameter detector'):
        read_file_settings(None, {'detector': 'yolo'})


def test_leftover_regions_come_by_class_in_opencvs_order_with_its_boxes_and_areas():
    """One multi-label pass gives what one connectedComponentsWithStats per class gave."""
    from scipy import ndimage

    from seg_perception.backends.detection_fusion import _leftover_regions
    rng = np.random.default_rng(11)
    for trial in range(60):
        height, width = (int(v) for v in rng.integers(3, 90, 2))
        leftover = rng.choice(np.array([0, 0, 0, 9, 14, 20], np.uint8), size=(height, width))
        if trial % 3 == 0:
            leftover = cv2.resize(leftover, (width * 2 + 1, height * 3),
                                  interpolation=cv2.INTER_NEAREST)
        expected = []
        for index, window in enumerate(ndimage.find_objects(leftover)):
            if window is None:
                continue
            top, left = max(0, window[0].start - 1), max(0, window[1].start - 1)
            count, _, stats, _ = cv2.connectedComponentsWithStats(
                (leftover[top:window[0].stop + 1, left:window[1].stop + 1] == index + 1)
                .view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
            expected += [(index, int(a), top + int(y), left + int(x), int(h), int(w))
                         for x, y, w, h, a in stats[1:]]
        labels, (top, left), found = _leftover_regions(leftover)
        assert [(c, a, y, x, h, w) for c, _, a, y, x, h, w in found] == expected
        for class_id, label, area, y, x, h, w in found:
            mask = labels == label
            assert mask.sum() == area
            assert (leftover[top:top + labels.shape[0], left:left + labels.shape[1]][mask]
                    == class_id + 1).all()
    assert _leftover_regions(np.zeros((4, 5), np.uint8)) is None
