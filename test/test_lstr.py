"""LSTR (TuSimple lane-shape transformer) with the authors' weights: strict load, real lanes."""

import numpy as np
import pytest
from sample_data import sample
import torch

from seg_perception import taxonomy
from seg_perception.backends.base import BackendOptions
from seg_perception.backends.lstr import curve_x, lines_from_output
from seg_perception.backends.lstr_net import load_lstr, sine_positions
from seg_perception.backends.registry import available_backends, create_backend
from seg_perception.tools import lane_metrics
from seg_perception.tools.image_source import read_rgb
from seg_perception.weights import WeightsError


@pytest.mark.timeout(60)
def test_checkpoint_loads_strictly_and_has_the_published_size(tmp_path):
    network = load_lstr(sample('weights', 'lstr_tusimple', 'LSTR_500000.pkl'))
    assert sum(p.numel() for p in network.parameters()) == 765_754
    with torch.inference_mode():
        logits, curves = network(torch.zeros(2, 3, 360, 640))
    assert logits.shape == (2, 7, 2) and curves.shape == (2, 7, 8)
    # the 4 shared curve values are the same for every query
    assert torch.allclose(curves[0, :, 2:6], curves[0, :1, 2:6].expand(7, 4))
    broken = tmp_path / 'LSTR_500000.pkl'
    torch.save({'module.conv1.weight': torch.zeros(1)}, broken)
    with pytest.raises(WeightsError, match='strict'):
        create_backend('lstr', BackendOptions(weights_path=str(broken), device='cpu'))


@pytest.mark.timeout(30)
def test_sine_positions_and_curve_decoding():
    pos = sine_positions(3, 4, 8, 'cpu')
    assert pos.shape == (8, 3, 4)
    # first y feature is sin(2 pi * row / height) for rows 1..3, constant along x
    assert torch.allclose(pos[0, :, 0], torch.sin(torch.tensor([1.0, 2.0, 3.0]) / 3 * 2
                                                  * torch.pi), atol=1e-5)
    assert torch.allclose(pos[0], pos[0, :, :1].expand(3, 4))
    params = np.array([0.0, -1.0, 0.0, 0.5, 0.2, 0.1])  # x = 0.5 + 0.2 y - 0.1
    assert curve_x(params, np.array([0.5])) == pytest.approx([0.5])
    curves = np.array([[0.4, 0.9, *params], [0.4, 0.9, *params]])
    lines = lines_from_output(np.array([0.9, 0.2]), curves, (100, 200))
    assert len(lines) == 1 and lines[0].confidence == pytest.approx(0.9)
    assert lines[0].y_top == pytest.approx(40.0) and lines[0].y_bottom == pytest.approx(90.0)
    assert lines[0].x_at(70.0) == pytest.approx((0.4 + 0.2 * 0.7) * 200.0, abs=1e-6)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lstr_finds_the_tusimple_lanes():
    assert {'lstr', 'espnetv2+lstr'} <= set(available_backends())
    backend = create_backend('lstr', BackendOptions(
        weights_dirs=(str(sample('weights')),), device='cpu', allow_download=False))
    assert backend.class_ids == (taxonomy.class_id('lane_marking'),)
    root = sample('lanes', 'tusimple_sample_512x288')
    labels = lane_metrics.read_tusimple(root / 'gt' / 'label_data.json')[:3]
    for label in labels:
        image = read_rgb(root / 'images' / label.raw_file)
        result = backend.segment([image])[0]
        rows = label.h_samples
        predictions = [np.where((rows >= line.y_top) & (rows <= line.y_bottom),
                                line.x_at(rows), -2.0) for line in result.lanes]
        accuracy, fp, fn = lane_metrics.tusimple_frame(predictions, label.lanes, rows, 512)
        assert accuracy >= 0.9 and fn == 0.0, label.raw_file
        assert (result.semantic == taxonomy.class_id('lane_marking')).mean() > 0.005
