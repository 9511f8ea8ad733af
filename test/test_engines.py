"""The engine graph's post-processing against the old host path, engines, and the ONNX cache."""

import dataclasses
import sys

import cv2
import numpy as np
import pytest
import torch

from seg_perception import label_sets, taxonomy
from seg_perception.backends import postprocess_reference as reference
from seg_perception.backends.base import BackendError, BackendOptions, BatchResizer
from seg_perception.backends.engines import create_requested_engine, \
    engine_module_available, OpenVinoEngine, resolve_engine, TorchEngine
from seg_perception.backends.graph import ArgmaxLabelHead, BinaryHeadsLabelHead, \
    SegmentationGraph
from seg_perception.backends.graph_export import cache_candidates, cached_export
from seg_perception.components import panoptic_from_semantic
from seg_perception.pipeline import resize_labels

TABLE = label_sets.cityscapes_train_id_table()[:20].copy()
CPU = torch.device('cpu')


def _random_logits(seed: int, batch: int = 2, height: int = 96, width: int = 160):
    """Smooth random logits: blobs of every class, touching each other, as a network gives."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, 20, height // 8, width // 8, generator=generator) * 4.0
    return torch.nn.functional.interpolate(coarse, size=(height, width), mode='bilinear',
                                           align_corners=True)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_graph_head_and_instances_equal_the_old_host_path_on_random_logits(seed):
    logits = _random_logits(seed)
    old_labels, old_confidence = reference.labels_from_logits(
        logits.contiguous(memory_format=torch.channels_last), TABLE)
    for channels_last in (True, False):
        head = ArgmaxLabelHead(TABLE.tolist(), 4, channels_last_reduction=channels_last)
        with torch.inference_mode():
            labels, sparse = head(logits)
        np.testing.assert_array_equal(labels.numpy(), old_labels)
        assert sparse.shape == (2, 24, 40)
        np.testing.assert_array_equal(
            sparse.numpy().repeat(4, axis=1).repeat(4, axis=2), old_confidence)
    image_size = (540, 960)  # 5.6x the map: min_area_px=64 drops regions under 12 map pixels
    for index in range(2):
        old = reference.panoptic_from_semantic(old_labels[index], image_size, 64.0,
                                               old_confidence[index])
        new = panoptic_from_semantic(old_labels[index], image_size, 64.0,
                                     sparse.numpy()[index], score_stride=4)
        assert len(old.segments) > 5  # the test means something only with many instances
        # The same instances; the order within a class may differ (OpenCV's label order
        # against the first pixel in raster order), so compare through a mapping of ids.
        old_by_key = {(s.class_id, s.bbox, s.area): s for s in old.segments}
        assert len(old_by_key) == len(old.segments) == len(new.segments)
        new_to_old = np.zeros(len(new.segments) + 1, dtype=np.int32)
        for segment in new.segments:
            match = old_by_key[(segment.class_id, segment.bbox, segment.area)]
            assert segment.score == pytest.approx(match.score, rel=1e-6)
            new_to_old[segment.segment_id] = match.segment_id
        np.testing.assert_array_equal(new_to_old[new.instance_map], old.instance_map)


@pytest.mark.timeout(30)
def test_instances_split_one_class_that_another_class_cuts_in_two():
    car, person = taxonomy.class_id('car'), taxonomy.class_id('person')
    semantic = np.full((20, 30), taxonomy.class_id('road'), dtype=np.uint8)
    semantic[5:15, 2:28] = car
    semantic[0:20, 12:16] = person  # cuts the car in two, touching both halves
    result = panoptic_from_semantic(semantic, (20, 30), min_area_px=1)
    classes = sorted(s.class_id for s in result.segments)
    assert classes == sorted([car, car, person])
    halves = sorted(s.bbox for s in result.segments if s.class_id == car)
    assert halves == [(2.0, 5.0, 12.0, 15.0), (16.0, 5.0, 28.0, 15.0)]


@pytest.mark.timeout(30)
def test_binary_heads_give_lane_over_road_over_unlabeled():
    road, lane = taxonomy.class_id('road'), taxonomy.class_id('lane_marking')
    drivable = torch.stack([torch.zeros(1, 3, 2) + 0.5, torch.tensor(
        [[[1.0, 0.0], [2.0, 0.5], [0.0, 0.0]]])], dim=1)
    lanes = torch.stack([torch.zeros(1, 3, 2), torch.tensor(
        [[[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]])], dim=1)
    labels = BinaryHeadsLabelHead((road, lane), taxonomy.UNLABELED)(drivable, lanes)
    expected = [[[lane, lane], [road, taxonomy.UNLABELED], [taxonomy.UNLABELED] * 2]]
    assert labels.dtype == torch.uint8
    assert labels.tolist() == expected


@pytest.mark.timeout(30)
def test_batch_resizer_reuses_its_buffer_and_resizes_like_cv2():
    rng = np.random.default_rng(0)
    resize = BatchResizer((64, 32))
    images = [rng.integers(0, 256, (48, 80, 3), dtype=np.uint8),
              rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)]
    first = resize(images)
    assert first.shape == (2, 32, 64, 3)
    np.testing.assert_array_equal(first[0], cv2.resize(images[0], (64, 32)))
    np.testing.assert_array_equal(first[1], images[1])
    second = resize(images[::-1])
    assert second is first  # one buffer per batch size, overwritten
    np.testing.assert_array_equal(second[0], images[1])


@pytest.mark.timeout(120)
def test_instances_at_the_label_stride_equal_instances_of_the_repeated_labels(
        espnetv2_weights_dir, cityscapes_frame):
    from seg_perception.backends.espnetv2 import ESPNetv2Backend
    from seg_perception.tools.image_source import read_rgb
    backend = ESPNetv2Backend(BackendOptions(
        weights_dirs=(str(espnetv2_weights_dir),), allow_download=False, device='cpu',
        engine='torch'))
    image = read_rgb(cityscapes_frame)
    labels, confidence = backend.infer_labels([image])
    assert backend.label_stride == 2 and labels.shape == (1, 256, 512)
    at_stride = backend.panoptic(labels[0], confidence[0], image.shape[:2])
    result = backend.panoptic(labels[0], confidence[0], image.shape[:2], at_input_size=True)
    assert at_stride.segments == result.segments
    np.testing.assert_array_equal(at_stride.semantic, labels[0])
    repeated = labels[0].repeat(2, axis=0).repeat(2, axis=1)
    expected = panoptic_from_semantic(repeated, image.shape[:2], 64.0, confidence[0], 4)
    assert len(expected.segments) > 5  # the test means something only with many instances
    assert [dataclasses.replace(s, score=0.0) for s in result.segments] == \
        [dataclasses.replace(s, score=0.0) for s in expected.segments]  # ids, classes, boxes
    assert [s.score for s in result.segments] == pytest.approx(
        [s.score for s in expected.segments], rel=1e-6)  # float32 means over other counts
    np.testing.assert_array_equal(result.semantic, repeated)
    np.testing.assert_array_equal(result.instance_map, expected.instance_map)
    # The pipeline's resize of the stride-2 maps gives the pixels of the repeated maps.
    for height, width in ((1080, 1920), (720, 1280), (360, 480), (375, 1242), (513, 1000)):
        for coarse, fine in ((at_stride.semantic, result.semantic),
                             (at_stride.instance_map.astype(np.uint16),
                              result.instance_map.astype(np.uint16))):
            np.testing.assert_array_equal(resize_labels(coarse, height, width),
                                          resize_labels(fine, height, width))


@pytest.mark.timeout(30)
def test_engine_names_are_checked_and_a_missing_package_names_its_install(monkeypatch):
    with pytest.raises(BackendError, match='engine must be one of'):
        resolve_engine('tensorflow', CPU)
    monkeypatch.setitem(sys.modules, 'openvino', None)  # import fails as if not installed
    with pytest.raises(BackendError, match='pip install openvino'):
        resolve_engine('openvino', CPU)
    assert resolve_engine('torch', CPU) == 'torch'
    assert resolve_engine('auto', CPU) != 'openvino'  # auto takes what is installed


@pytest.mark.timeout(30)
def test_auto_falls_back_to_torch_when_its_engine_cannot_be_built_and_a_named_one_raises(
        caplog):
    def failing_export(export_format):
        raise BackendError(f'{export_format} export failed: disk full')

    engine = create_requested_engine('auto', CPU, False, lambda: _tiny_graph(0), failing_export)
    assert isinstance(engine, TorchEngine)
    if resolve_engine('auto', CPU) != 'torch':
        assert 'running torch instead' in caplog.text and 'disk full' in caplog.text
    images = np.zeros((1, 24, 32, 3), dtype=np.uint8)
    assert engine.run(images)[0].shape == (1, 24, 32)
    for named in ('onnxruntime', 'openvino'):
        if engine_module_available(named):
            with pytest.raises(BackendError, match='disk full'):
                create_requested_engine(named, CPU, False, lambda: _tiny_graph(0),
                                        failing_export)


class _TinyNetwork(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 20, 3, padding=1)

    def forward(self, image):
        return self.conv(image)


def _tiny_graph(seed: int) -> SegmentationGraph:
    torch.manual_seed(seed)
    return SegmentationGraph(_TinyNetwork().eval(), (120.0, 110.0, 100.0), (0.02, 0.02, 0.02),
                             ArgmaxLabelHead(TABLE.tolist(), 4))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_export_is_cached_by_checkpoint_checksum_and_runs_with_dynamic_batch(tmp_path):
    pytest.importorskip('onnxscript')
    onnxruntime = pytest.importorskip('onnxruntime')
    weights_dir = tmp_path / 'weights'
    weights_dir.mkdir()
    checkpoint = weights_dir / 'tiny.pth'
    checkpoint.write_bytes(b'first checkpoint')
    cache = tmp_path / 'cache'
    built = []

    def build():
        built.append(1)
        return _tiny_graph(0)

    weights_dir.chmod(0o555)  # read-only weights folder: the export goes to the cache
    try:
        path = cached_export(checkpoint, 'tiny_32x24', build, (24, 32),
                             ('labels', 'confidence'), cache_dir=cache)
        assert path.parent == cache and path.is_file() and len(built) == 1
        assert cached_export(checkpoint, 'tiny_32x24', build, (24, 32),
                             ('labels', 'confidence'), cache_dir=cache) == path
        assert len(built) == 1  # found, not exported again
    finally:
        weights_dir.chmod(0o755)
    checkpoint.write_bytes(b'another checkpoint')  # new weights: a new file
    other = cached_export(checkpoint, 'tiny_32x24', build, (24, 32), ('labels', 'confidence'),
                          cache_dir=cache)
    assert other != path and other.parent == weights_dir and len(built) == 2
    assert cache_candidates(checkpoint, 'tiny_32x24', cache)[0] == other

    images = np.random.default_rng(1).integers(0, 256, (3, 24, 32, 3), dtype=np.uint8)
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    labels, confidence = session.run(None, {session.get_inputs()[0].name: images})
    graph = _tiny_graph(0)
    graph.head.channels_last_reduction = False
    with torch.inference_mode():
        expected_labels, expected_confidence = graph(torch.from_numpy(images))
    np.testing.assert_array_equal(labels, expected_labels.numpy())
    np.testing.assert_allclose(confidence, expected_confidence.numpy(), atol=1e-5)


@pytest.mark.timeout(120)
def test_openvino_export_is_cached_and_runs_any_batch_as_torch_does(tmp_path):
    openvino = pytest.importorskip('openvino')
    checkpoint = tmp_path / 'tiny.pth'
    checkpoint.write_bytes(b'checkpoint')
    built = []

    def build():
        built.append(1)
        graph = _tiny_graph(0)
        graph.head.channels_last_reduction = False
        return graph

    path = cached_export(checkpoint, 'tiny_32x24', build, (24, 32), ('labels', 'confidence'),
                         export_format='openvino')
    assert path.suffix == '.xml' and path.with_suffix('.bin').is_file() and len(built) == 1
    assert path == cache_candidates(checkpoint, 'tiny_32x24', export_format='openvino')[0]
    assert cached_export(checkpoint, 'tiny_32x24', build, (24, 32), ('labels', 'confidence'),
                         export_format='openvino') == path and len(built) == 1
    assert not list(tmp_path.glob('*.part*'))  # the staging folder is gone
    with pytest.raises(BackendError, match='export format must be one of'):
        cached_export(checkpoint, 'tiny_32x24', build, (24, 32), ('labels',),
                      export_format='tflite')

    one_at_a_time = OpenVinoEngine(path, 'f32', threads=1)
    # Three frames asked side by side on two threads: two streams, a frame per request.
    side_by_side = OpenVinoEngine(path, 'f32', threads=2, parallel_frames=3)
    assert (one_at_a_time.parallel_frames, side_by_side.parallel_frames) == (1, 2)
    assert side_by_side.description == 'openvino CPU f32, 2 streams'
    graph = _tiny_graph(0)
    for engine in (one_at_a_time, side_by_side):
        for batch in (1, 3):
            images = np.random.default_rng(batch).integers(0, 256, (batch, 24, 32, 3),
                                                           np.uint8)
            labels, confidence = engine.run(images)
            with torch.inference_mode():
                expected_labels, expected_confidence = graph(torch.from_numpy(images))
            np.testing.assert_array_equal(labels, expected_labels.numpy())  # in batch order
            np.testing.assert_allclose(confidence, expected_confidence.numpy(), atol=1e-5)
    # A failed request leaves OpenVINO's queue failing every later call; the engine replaces
    # it, so a bad batch fails alone.
    with pytest.raises(RuntimeError):
        side_by_side.run(np.zeros((2, 20, 32, 3), np.uint8))  # not the graph's input size
    labels, _ = side_by_side.run(images)
    np.testing.assert_array_equal(labels, expected_labels.numpy())
    names = [output.get_any_name() for output in openvino.Core().read_model(str(path)).outputs]
    assert names == ['labels', 'confidence']
    path.with_suffix('.bin').unlink()  # a damaged cache is an error that names the file
    with pytest.raises(BackendError, match='OpenVINO cannot load .*tiny'):
        OpenVinoEngine(path, 'f32')
    assert cached_export(checkpoint, 'tiny_32x24', build, (24, 32), ('labels', 'confidence'),
                         export_format='openvino') == path  # ... and exported again
    assert len(built) == 2 and path.with_suffix('.bin').is_file()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_engines_agree_with_torch_on_a_real_frame(espnetv2_weights_dir, cityscapes_frame):
    from seg_perception.backends.espnetv2 import ESPNetv2Backend
    from seg_perception.tools.image_source import read_rgb
    image = cv2.resize(read_rgb(cityscapes_frame), (512, 256), interpolation=cv2.INTER_AREA)
    outputs = {}
    for engine in ('torch', 'onnxruntime', 'openvino'):
        try:
            backend = ESPNetv2Backend(BackendOptions(
                weights_dirs=(str(espnetv2_weights_dir),), allow_download=False, device='cpu',
                input_width=512, input_height=256, engine=engine,
                extra={'openvino_precision': 'f32'}))
        except BackendError as error:
            if 'not installed' in str(error):
                continue
            raise
        outputs[engine] = backend.infer_labels([image, image[:, ::-1].copy()])
    labels, confidence = outputs.pop('torch')
    assert labels.shape == (2, 128, 256) and confidence.shape == (2, 64, 128)
    road = taxonomy.class_id('road')
    assert (labels[:, 100:] == road).mean() > 0.5  # the network works: road at the bottom
    assert outputs, 'neither onnxruntime nor openvino is installed'
    for engine, (other_labels, other_confidence) in outputs.items():
        assert (other_labels == labels).mean() > 0.999, engine
        np.testing.assert_allclose(other_confidence, confidence, atol=1e-3, err_msg=engine)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_default_graph_keeps_the_authors_miou_on_the_samples(espnetv2_weights_dir):
    # Issue 14's rule for a faster path: mIoU within 0.005 of the authors' recipe (torch,
    # logits upsampled before the argmax) on the CamVid and Cityscapes samples. Measured:
    # CamVid 0.5562 -> 0.5545, Cityscapes 0.6453 -> 0.6443 (62 and 6 frames).
    from seg_perception.backends.espnetv2 import ARGMAX_AT_INPUT_SIZE_KEY, ESPNetv2Backend
    from seg_perception.tools.bench_engines import _mean_iou, scored_frames
    from seg_perception.tools.image_source import read_rgb
    frames = scored_frames(12)
    if {dataset for dataset, _, _ in frames} != {'camvid', 'cityscapes'}:
        pytest.skip('needs the camvid_samples and cityscapes_instances sample data')
    images = [read_rgb(image) for _, image, _ in frames]
    miou = {}
    for name, engine, extra in (('authors', 'torch', {ARGMAX_AT_INPUT_SIZE_KEY: 'true'}),
                                ('default', 'auto', {})):
        backend = ESPNetv2Backend(BackendOptions(
            weights_dirs=(str(espnetv2_weights_dir),), allow_download=False, device='cpu',
            engine=engine, extra=extra))
        predictions = [backend.infer_labels([image])[0][0] for image in images]
        for dataset in ('camvid', 'cityscapes'):
            pairs = [(p, gt) for p, (d, _, gt) in zip(predictions, frames) if d == dataset]
            miou[name, dataset] = _mean_iou(dataset, pairs)
    for dataset in ('camvid', 'cityscapes'):
        assert miou['authors', dataset] > 0.5  # the network works
        assert abs(miou['default', dataset] - miou['authors', dataset]) <= 0.005, miou
