"""torchvision, transformers and detectron2 backends end to end through the pipeline (CPU)."""

import cv2
import numpy as np
import pytest

from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import BackendError, BackendOptions, parse_extra
from seg_perception.backends.fusion import paint_masks, panoptic_from_segments
from seg_perception.backends.registry import available_backends, create_backend
from seg_perception.pipeline import Pipeline
from seg_perception.structures import Frame
from seg_perception.tools.image_source import read_rgb
from seg_perception.tracking import Tracker

CANONICAL = set(c.class_id for c in taxonomy.CLASSES) | {taxonomy.UNLABELED}


@pytest.fixture(scope='module')
def small_frame(cityscapes_frame) -> np.ndarray:
    """Return the Cityscapes frame at 256x128, (128, 256, 3) uint8 RGB."""
    return cv2.resize(read_rgb(cityscapes_frame), (256, 128), interpolation=cv2.INTER_AREA)


def check_pipeline_output(backend, image, min_objects=0):
    """Run two frames through the pipeline; check classes, shapes, boxes."""
    pipeline = Pipeline(backend, Tracker)
    results = pipeline.process_batch([Frame(image=image, stamp_ns=0),
                                      Frame(image=image[:, ::-1].copy(), stamp_ns=10 ** 8)])
    panoptic = backend.segment([image])[0]
    assert set(np.unique(panoptic.semantic).tolist()) <= CANONICAL
    assert panoptic.instance_map.shape == panoptic.semantic.shape
    assert [s.segment_id for s in panoptic.segments] == list(range(1, len(panoptic.segments) + 1))
    assert len(panoptic.segments) >= min_objects
    height, width = image.shape[:2]
    for segment in panoptic.segments:
        assert taxonomy.CLASS_BY_ID[segment.class_id].is_thing
        x0, y0, x1, y1 = segment.bbox
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert 0.0 <= segment.score <= 1.0
        assert segment.class_id in backend.class_ids
    for result in results:
        assert result.semantic.shape == (height, width) and result.semantic.dtype == np.uint8
        assert result.instances.shape == (height, width) and result.instances.dtype == np.uint16
        assert set(np.unique(result.semantic).tolist()) <= CANONICAL
    return panoptic


def test_paint_masks_puts_the_best_score_on_top_and_numbers_things_from_one():
    masks = np.zeros((3, 4, 6), dtype=bool)
    masks[0, :, :3] = True     # car, 0.6
    masks[1, :, 2:5] = True    # person, 0.9: wins column 2
    masks[2, 0, 5] = True      # road (stuff), 0.7
    segment_map = paint_masks(masks, np.array([0.6, 0.9, 0.7]))
    assert segment_map[:, 2].tolist() == [2] * 4
    car, person, road = (taxonomy.class_id(n) for n in ('car', 'person', 'road'))
    result = panoptic_from_segments(segment_map, [car, person, road], [0.6, 0.9, 0.7],
                                    (8, 12), min_area_px=0)
    assert [(s.segment_id, s.class_id) for s in result.segments] == [(1, car), (2, person)]
    assert result.segments[0].bbox == (0.0, 0.0, 4.0, 8.0)
    assert result.segments[0].area == 8 * 4
    assert result.semantic[0, 5] == road and result.instance_map[0, 5] == 0
    assert result.semantic[1, 5] == taxonomy.UNLABELED


@pytest.mark.slow
def test_torchvision_backend_runs_end_to_end_with_random_weights(small_frame):
    pytest.importorskip('torchvision')
    backend = create_backend('torchvision', BackendOptions(
        device='cpu', input_width=256, input_height=128, min_instance_area_px=0,
        extra={'random_init': 'true', 'score_threshold': '0', 'max_detections': '5'}))
    panoptic = check_pipeline_output(backend, small_frame)
    assert panoptic.semantic.shape == (128, 256)


def test_torchvision_backend_rejects_unknown_models_and_missing_weights(tmp_path):
    pytest.importorskip('torchvision')
    with pytest.raises(BackendError, match='semantic_model=.*choose one of'):
        create_backend('torchvision', BackendOptions(device='cpu', extra={
            'semantic_model': 'unet', 'random_init': 'true'}))
    with pytest.raises(BackendError, match='needs semantic_weights'):
        create_backend('torchvision', BackendOptions(device='cpu', extra={
            'semantic_labels': 'cityscapes'}, allow_download=False))
    broken = tmp_path / 'maskrcnn.pth'
    broken.write_bytes(b'nope')
    with pytest.raises(Exception, match=f'cannot read checkpoint {broken}'):
        create_backend('torchvision', BackendOptions(device='cpu', weights_path=str(broken),
                                                     allow_download=False))


def tiny_mask2former_config(tmp_path, id2label):
    """Write a randomly initialisable Mask2Former config (Swin, 0.35 M parameters) to json."""
    transformers = pytest.importorskip('transformers')
    backbone = transformers.SwinConfig(
        embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4,
        out_features=['stage1', 'stage2', 'stage3', 'stage4'])
    config = transformers.Mask2FormerConfig(
        backbone_config=backbone, hidden_dim=32, num_queries=8, encoder_layers=1,
        decoder_layers=2, feature_size=32, mask_feature_size=32, encoder_feedforward_dim=64,
        dim_feedforward=64, num_attention_heads=2, use_pretrained_backbone=False,
        id2label=dict(enumerate(id2label)), label2id={n: i for i, n in enumerate(id2label)})
    path = tmp_path / 'config.json'
    config.to_json_file(str(path))
    return path


@pytest.mark.parametrize('labels', [
    ('road', 'sidewalk', 'car', 'person', 'traffic sign', 'sky'),                 # Cityscapes
    ('Road', 'Lane Marking - General', 'Lane Marking - Crosswalk', 'Car', 'Bicyclist',
     'Traffic Sign (Front)', 'Bird'),                                              # Vistas v1.2
])
def test_mask2former_backend_runs_end_to_end_with_a_tiny_random_model(
        tmp_path, small_frame, labels):
    config = tiny_mask2former_config(tmp_path, labels)
    backend = create_backend('transformers', BackendOptions(
        device='cpu', input_width=256, input_height=128, min_instance_area_px=0,
        extra={'config_json': str(config), 'threshold': '0.0'}))
    expected = {taxonomy.class_id(label_sets.canonical_name(n)) for n in labels
                if label_sets.canonical_name(n)}
    assert set(backend.class_ids) == expected
    check_pipeline_output(backend, small_frame)


def test_mask2former_segments_map_to_canonical_things_and_stuff(tmp_path):
    import torch
    config = tiny_mask2former_config(tmp_path, ('Road', 'Car', 'Lane Marking - General'))
    backend = create_backend('transformers', BackendOptions(
        device='cpu', input_width=256, input_height=128, min_instance_area_px=0,
        extra={'config_json': str(config)}))
    segmentation = torch.zeros((128, 256), dtype=torch.int32)
    segmentation[64:] = 1
    segmentation[10:20, 100:140] = 2
    segmentation[100:110, 0:256] = 3
    info = [{'id': 1, 'label_id': 0, 'score': 0.9, 'was_fused': True},
            {'id': 2, 'label_id': 1, 'score': 0.7, 'was_fused': False},
            {'id': 3, 'label_id': 2, 'score': 0.6, 'was_fused': True}]
    result = backend._convert({'segmentation': segmentation, 'segments_info': info}, (128, 256))
    assert [(s.segment_id, s.class_id, s.score, s.bbox) for s in result.segments] == [
        (1, taxonomy.class_id('car'), pytest.approx(0.7), (100.0, 10.0, 140.0, 20.0))]
    assert result.semantic[70, 0] == taxonomy.class_id('road')
    assert result.semantic[105, 0] == taxonomy.class_id('lane_marking')
    assert result.semantic[0, 0] == taxonomy.UNLABELED
    assert result.instance_map[15, 120] == 1 and result.instance_map[70, 0] == 0


def test_mask2former_backend_loads_a_saved_directory_and_explains_a_missing_hub_model(
        tmp_path, small_frame):
    transformers = pytest.importorskip('transformers')
    config = transformers.AutoConfig.from_pretrained(
        tiny_mask2former_config(tmp_path, ('road', 'car')))
    model = transformers.Mask2FormerForUniversalSegmentation(config)
    model.save_pretrained(tmp_path / 'model')
    transformers.Mask2FormerImageProcessor().save_pretrained(tmp_path / 'model')
    backend = create_backend('transformers', BackendOptions(
        device='cpu', input_width=256, input_height=128,
        extra={'model': str(tmp_path / 'model')}))
    check_pipeline_output(backend, small_frame)
    with pytest.raises(BackendError, match="cannot load transformers model 'nobody/no-model'.*"
                                           'HuggingFace cache'):
        create_backend('transformers', BackendOptions(
            device='cpu', allow_download=False, extra={'model': 'nobody/no-model'}))
    with pytest.raises(BackendError, match='needs extra option model'):
        create_backend('transformers', BackendOptions(device='cpu'))


@pytest.fixture(scope='module')
def panoptic_fpn():
    """Return a detectron2 Panoptic FPN backend with random weights at 256x128."""
    pytest.importorskip('detectron2')
    return create_backend('detectron2', BackendOptions(
        device='cpu', input_width=256, input_height=128, min_instance_area_px=0,
        extra={'config_file': 'COCO-PanopticSegmentation/panoptic_fpn_R_50_1x.yaml',
               'random_init': 'true', 'score_threshold': '0.3'}))


def test_detectron2_panoptic_fpn_runs_end_to_end_with_random_weights(panoptic_fpn, small_frame):
    names = {taxonomy.CLASS_BY_ID[i].name for i in panoptic_fpn.class_ids}
    assert {'road', 'sidewalk', 'car', 'person', 'traffic_light', 'traffic_sign'} <= names
    check_pipeline_output(panoptic_fpn, small_frame)


def test_detectron2_outputs_map_to_canonical_classes(panoptic_fpn):
    import torch
    from detectron2.structures import Instances
    segment_map = torch.zeros((128, 256), dtype=torch.int32)
    segment_map[:64, :100] = 1     # thing 2 = car
    segment_map[64:, :] = 2        # stuff: 'road' in detectron2's stuff_classes
    stuff = panoptic_fpn._stuff_table
    road = int(np.flatnonzero(stuff == taxonomy.class_id('road'))[0])
    info = [{'id': 1, 'isthing': True, 'category_id': 2, 'score': 0.9},
            {'id': 2, 'isthing': False, 'category_id': road}]
    result = panoptic_fpn._convert({'panoptic_seg': (segment_map, info)}, (256, 512))
    assert [(s.class_id, s.bbox) for s in result.segments] == [
        (taxonomy.class_id('car'), (0.0, 0.0, 200.0, 128.0))]
    assert result.semantic[100, 0] == taxonomy.class_id('road')
    # No panoptic output: sem_seg gives the stuff, instances above the threshold are painted.
    sem_seg = torch.zeros((len(stuff), 128, 256))
    sem_seg[road] = 1.0
    instances = Instances((128, 256))
    masks = torch.zeros((2, 128, 256), dtype=torch.bool)
    masks[0, 10:20, 30:50] = True
    masks[1, 50:60, 30:50] = True
    instances.pred_masks = masks
    instances.pred_classes = torch.tensor([0, 2])   # person, car
    instances.scores = torch.tensor([0.8, 0.1])     # the car is below 0.3
    result = panoptic_fpn._convert({'sem_seg': sem_seg, 'instances': instances}, (128, 256))
    assert [(s.class_id, s.bbox) for s in result.segments] == [
        (taxonomy.class_id('person'), (30.0, 10.0, 50.0, 20.0))]
    assert result.semantic[55, 40] == taxonomy.class_id('road')


def test_detectron2_backend_explains_a_missing_config_and_checkpoint(tmp_path):
    pytest.importorskip('detectron2')
    with pytest.raises(BackendError, match='needs extra option config_file'):
        create_backend('detectron2', BackendOptions(device='cpu'))
    with pytest.raises(BackendError, match="detectron2 config 'nowhere/none.yaml'"):
        create_backend('detectron2', BackendOptions(
            device='cpu', extra={'config_file': 'nowhere/none.yaml'}))
    broken = tmp_path / 'model_final.pkl'
    broken.write_bytes(b'nope')
    with pytest.raises(Exception, match=f'cannot read detectron2 checkpoint {broken}'):
        create_backend('detectron2', BackendOptions(
            device='cpu', weights_path=str(broken), input_width=256, input_height=128,
            extra={'config_file': 'COCO-PanopticSegmentation/panoptic_fpn_R_50_1x.yaml'}))


def test_backend_extra_parses_key_value_entries():
    assert parse_extra('') == {}
    assert parse_extra(' model = a/b ; threshold=0.5;') == {'model': 'a/b', 'threshold': '0.5'}
    assert parse_extra('opts=MODEL.A=1 MODEL.B=2') == {'opts': 'MODEL.A=1 MODEL.B=2'}
    with pytest.raises(BackendError, match="'model' is not key=value"):
        parse_extra('model')


@pytest.mark.parametrize('name', ['torchvision', 'mask2former_cityscapes', 'mask2former_vistas',
                                  'detectron2_panoptic_fpn'])
def test_backend_config_files_name_a_registered_backend_and_its_settings(name):
    pytest.importorskip('rclpy')
    from seg_perception.settings_file import read_file_settings
    from seg_perception.paths import repo_root
    settings = read_file_settings(repo_root() / 'config' / f'{name}.yaml')
    assert settings.backend in available_backends()
    extra = settings.backend_options.extra
    assert extra.get('model') or extra.get('config_file') or settings.backend == 'torchvision'


def test_missing_optional_dependency_says_how_to_install_and_lists_the_backends(monkeypatch):
    from seg_perception.backends import registry
    monkeypatch.setitem(registry._BACKENDS, 'detectron2', (
        'seg_perception.backends.no_such_module', 'X', 'torch detectron2'))
    with pytest.raises(BackendError, match='backend .detectron2. needs torch detectron2: import '
                                           'failed .*install with: scripts/install_detectron2.sh '
                                           'VENV.*backends: detectron2, espnetv2'):
        create_backend('detectron2')
