"""TwinLiteNet with its real weights, and its lane lines composed over ESPNetv2."""

from pathlib import Path
from typing import Sequence, Tuple

import cv2
import numpy as np
import pytest
from sample_data import sample
import torch

from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import BackendOptions, Segmenter
from seg_perception.backends.composite import CompositeBackend
from seg_perception.backends.registry import available_backends, create_backend
from seg_perception.structures import PanopticResult, Segment
from seg_perception.tools.image_source import read_rgb
from seg_perception.tools.semantic_eval import confusion_matrix, SemanticScores

ROAD = taxonomy.class_id('road')
LANE = taxonomy.class_id('lane_marking')
CAR = taxonomy.class_id('car')
SKY = taxonomy.class_id('sky')


class _FakeSegmenter(Segmenter):
    """Return one fixed result for every image."""

    def __init__(self, name: str, result: PanopticResult, class_ids: Tuple[int, ...]):
        self.name = name
        self._result = result
        self._class_ids = class_ids
        self.calls = 0

    @property
    def class_ids(self) -> Tuple[int, ...]:
        return self._class_ids

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        self.calls += 1
        return tuple(self._result for _ in images)


def _weights_dirs() -> Tuple[str, ...]:
    return (str(sample('weights', 'espnetv2_edgenets')), str(sample('weights')))


def test_composite_paints_secondary_classes_outside_instances_at_primary_resolution():
    semantic = np.full((4, 8), ROAD, dtype=np.uint8)
    semantic[:2] = SKY
    semantic[2:, 6:] = CAR
    instance_map = np.zeros((4, 8), dtype=np.int32)
    instance_map[2:, 6:] = 1
    car = Segment(segment_id=1, class_id=CAR, score=0.9, bbox=(6.0, 2.0, 8.0, 4.0), area=4.0)
    primary = _FakeSegmenter(
        'p', PanopticResult(semantic, instance_map, (car,)), (ROAD, SKY, CAR))
    # The secondary works at half the resolution: lane on columns 2..3 and 6..7 of the rows 2..3
    # (below the car too), road everywhere else.
    lanes = np.full((2, 4), ROAD, dtype=np.uint8)
    lanes[1, 1] = LANE
    lanes[1, 3] = LANE
    secondary = _FakeSegmenter(
        's', PanopticResult(lanes, np.zeros((2, 4), dtype=np.int32)), (ROAD, LANE))
    composite = CompositeBackend(primary, secondary, ('lane_marking',))

    result, = composite.segment([np.zeros((40, 80, 3), dtype=np.uint8)])

    expected = semantic.copy()
    expected[2:, 2:4] = LANE  # painted; the car's pixels (columns 6..7) are kept
    np.testing.assert_array_equal(result.semantic, expected)
    np.testing.assert_array_equal(result.instance_map, instance_map)
    assert result.segments == (car,)
    assert composite.class_ids == tuple(sorted((ROAD, LANE, CAR, SKY)))
    assert composite.name == 'p+s'
    assert primary.calls == secondary.calls == 1
    assert composite.engine_description == ''  # neither has a choice of engine
    primary.device, primary.parallel_frames = 'cuda:0', 3  # the node batches by the primary's
    primary.engine_description, secondary.engine_description = 'torch cuda:0 fp16', 'onnx'
    on_cuda = CompositeBackend(primary, secondary, ('lane_marking',))
    assert (on_cuda.device, on_cuda.parallel_frames) == ('cuda:0', 3)
    assert on_cuda.engine_description == 'torch cuda:0 fp16 + onnx'  # for the node's log
    assert composite.segment([]) == ()


def test_composite_rejects_a_class_the_secondary_never_outputs():
    empty = PanopticResult(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.int32))
    with pytest.raises(Exception, match='lane_marking'):
        CompositeBackend(_FakeSegmenter('p', empty, (ROAD,)), _FakeSegmenter('s', empty, (ROAD,)),
                         ('lane_marking',))


def test_backends_are_registered():
    assert {'twinlitenet', 'espnetv2+twinlitenet'} <= set(available_backends())


def test_checkpoint_loads_strictly_and_subnormal_zeroing_keeps_outputs():
    from seg_perception.backends.twinlitenet_net import load_twinlitenet, zero_subnormals_
    path = sample('weights', 'twinlitenet', 'best.pth')
    state = torch.load(str(path), map_location='cpu', weights_only=True)
    raw = load_twinlitenet(path, zero_subnormals=False)  # strict: raises on any mismatch
    assert len(raw.state_dict()) == len(state) == 183
    fast = load_twinlitenet(path)
    assert zero_subnormals_(fast) == 0  # already done at load
    image = read_rgb(sample('bdd100k_samples', 'twinlitenet_images', 'caeb782d-4a20b7c4.jpg'))
    batch = torch.from_numpy(image[::2, ::2].copy()).permute(2, 0, 1)[None].float() / 255.0
    batch = batch[:, :, :352, :640]  # a smaller input, multiple of 8, to keep the test quick
    with torch.inference_mode():
        for slow_logits, fast_logits in zip(raw(batch), fast(batch)):
            assert slow_logits.shape == (1, 2, 352, 640)
            torch.testing.assert_close(fast_logits, slow_logits, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_twinlitenet_backend_labels_road_and_lanes_without_instances():
    backend = create_backend('twinlitenet', BackendOptions(
        weights_dirs=_weights_dirs(), allow_download=False, device='cpu'))
    image = read_rgb(sample('bdd100k_samples', 'twinlitenet_images', 'caeb782d-4a20b7c4.jpg'))
    result, = backend.segment([image])
    assert result.semantic.shape == (360, 640)
    assert set(np.unique(result.semantic)) <= {ROAD, LANE, taxonomy.UNLABELED}
    assert 0.15 < np.mean(result.semantic == ROAD) < 0.35
    assert 0.002 < np.mean(result.semantic == LANE) < 0.03
    assert not result.instance_map.any() and result.segments == ()
    assert backend.class_ids == (ROAD, LANE)


@pytest.fixture(scope='module')
def composite() -> CompositeBackend:
    return create_backend('espnetv2+twinlitenet', BackendOptions(
        weights_dirs=_weights_dirs(), allow_download=False, device='cpu'))


@pytest.mark.slow
def test_composite_marks_lane_lines_on_bdd100k_frames(composite):
    frames = sorted(sample('bdd100k_samples', 'twinlitenet_images').glob('*.jpg'))
    assert len(frames) >= 3
    results = composite.segment([read_rgb(path) for path in frames])
    for path, result in zip(frames, results):
        lanes = result.semantic == LANE
        fraction = lanes.mean()
        lower = lanes[lanes.shape[0] // 2:].sum() / max(lanes.sum(), 1)
        # The authors' recipe marks 0.18% (caec69a1, a nearly empty road) to 1.8% of these frames
        # as lane line; the composite keeps 75-100% of that (instances are not painted over).
        assert 0.0015 < fraction < 0.03, f'{path.name}: lane fraction {fraction:.4f}'
        assert lower > 0.5, f'{path.name}: only {lower:.2f} of the lane pixels in the lower half'
        assert result.semantic.shape == (512, 1024)


def _cityscapes_scores(semantic: np.ndarray, gt_path: Path) -> SemanticScores:
    """Score canonical ids against Cityscapes train ids, with lane_marking counted as road."""
    names = label_sets.CITYSCAPES_TRAIN_ID_NAMES
    to_index = np.full(256, len(names), dtype=np.uint8)
    for index, name in enumerate(names):
        to_index[taxonomy.class_id(name)] = index
    to_index[LANE] = names.index('road')
    gt = cv2.imread(str(gt_path), cv2.IMREAD_UNCHANGED)
    # as seg_perception.tools.semantic_eval does: nearest-neighbour resize to the ground truth
    pred = cv2.resize(semantic, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_NEAREST_EXACT)
    return SemanticScores(names, confusion_matrix(gt, to_index[pred], len(names)), 1)


@pytest.mark.slow
def test_composition_keeps_espnetv2_accuracy_on_cityscapes(
        composite, cityscapes_frame, cityscapes_gt_dir):
    image = read_rgb(cityscapes_frame)
    primary, = composite.primary.segment([image])
    composed = composite.compose(primary, composite.secondary.segment([image])[0])
    assert (composed.semantic == LANE).any()
    gt = cityscapes_gt_dir / 'frankfurt_000000_000294_gtFine_labelTrainIds.png'
    alone = _cityscapes_scores(primary.semantic, gt).mean_iou()
    together = _cityscapes_scores(composed.semantic, gt).mean_iou()
    assert together >= alone - 0.01, f'mIoU {alone:.4f} alone, {together:.4f} composed'


def test_weights_dir_parameter_holds_several_folders_separated_by_colons():
    import rclpy
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from seg_perception.ros import parameters
    rclpy.init()
    try:
        node = Node('weights_dirs_under_test', parameter_overrides=[
            Parameter('weights_dir', value='/a/espnetv2::/b/weights')])
        parameters.declare_parameters(node)
        options = parameters.read_settings(node).backend_options
        assert options.weights_dirs == ('/a/espnetv2', '/b/weights')
        node.destroy_node()
    finally:
        rclpy.shutdown()
