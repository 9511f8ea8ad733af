"""Lane metrics (TuSimple, CULane, id stability) and ``evaluate lanes`` on real frames."""

import json

import numpy as np
import pytest
from sample_data import sample

from seg_perception.tools import cli, lane_metrics

ROWS = np.arange(240.0, 720.0, 10.0)


def _lane(x_bottom, slope):
    """Return x per row of a straight lane reaching ``x_bottom`` at row 710."""
    return x_bottom + slope * (ROWS - 710.0)


@pytest.mark.timeout(30)
def test_tusimple_perfect_shifted_and_missing_lanes():
    gt = np.stack([_lane(300, -0.8), _lane(700, 0.1), _lane(1000, 0.9)])
    gt[2, :10] = -2  # absent on the upper rows
    assert lane_metrics.tusimple_frame(list(gt), gt, ROWS, 1280) == (1.0, 0.0, 0.0)
    # 10 px off is within 20 px; 40 px off is not
    near = lane_metrics.tusimple_frame(list(gt + 10 * (gt >= 0)), gt, ROWS, 1280)
    assert near == (1.0, 0.0, 0.0)
    far = lane_metrics.tusimple_frame(list(gt + 40 * (gt >= 0)), gt, ROWS, 1280)
    assert far[1] == 1.0 and far[2] == 1.0
    # one lane missing, one extra far off
    accuracy, fp, fn = lane_metrics.tusimple_frame(
        [gt[0], gt[1], _lane(100, 0.0)], gt, ROWS, 1280)
    assert fn == pytest.approx(1 / 3) and fp == pytest.approx(1 / 3)
    assert accuracy < 0.8
    # the threshold scales with the image width: 14 px at 640 wide is 28 px at 1280
    half = lane_metrics.tusimple_frame(list(gt / 2 + 14 * (gt >= 0)), gt / 2, ROWS / 2, 640)
    assert half[2] == 1.0


@pytest.mark.timeout(30)
def test_culane_iou_matching():
    gt = [np.array([[400.0, 590.0], [700.0, 300.0]]),
          np.array([[1300.0, 590.0], [900.0, 300.0]])]
    assert lane_metrics.culane_frame(gt, gt, (590, 1640))[:3] == (2, 0, 0)
    shifted = [lane + [10.0, 0.0] for lane in gt]  # 10 of 30 px off: IoU 0.5
    assert lane_metrics.culane_frame(shifted, gt, (590, 1640))[:3] == (2, 0, 0)
    far = [lane + [25.0, 0.0] for lane in gt]
    assert lane_metrics.culane_frame(far, gt, (590, 1640))[:3] == (0, 2, 2)
    half = lane_metrics.culane_frame([gt[0] / 2], [g / 2 for g in gt], (295, 820))
    assert half[:3] == (1, 0, 1) and half[3] == [(0, 0)]
    assert lane_metrics.f1_scores(1, 0, 1)['f1'] == pytest.approx(2 / 3)


@pytest.mark.timeout(30)
def test_id_stability_counts_switches():
    gt = [np.array([[400.0, 590.0], [700.0, 300.0]]),
          np.array([[1300.0, 590.0], [900.0, 300.0]])]
    stability = lane_metrics.IdStability()
    stability.update(gt, {0: 1, 1: 2}, 590, 1640)
    stability.update([lane + [5.0, 0.0] for lane in gt], {0: 1, 1: 7}, 590, 1640)
    assert stability.summary() == {'pairs': 2, 'kept': 1, 'switched': 1, 'stability': 0.5}
    stability.reset()
    stability.update(gt, {0: 3}, 590, 1640)
    assert stability.summary()['pairs'] == 2


@pytest.mark.timeout(30)
def test_ground_truth_readers(tmp_path):
    folder = sample('lanes', 'tusimple_sample_512x288', 'gt')
    frames = lane_metrics.read_tusimple(folder / 'label_data.json')
    assert len(frames) == 10 and frames[0].lanes.shape[1] == frames[0].h_samples.shape[0]
    lines = lane_metrics.read_culane_lines(next(sample(
        'lanes', 'culane_nightblur_sample', 'gt').rglob('*.lines.txt')))
    assert 3 <= len(lines) <= 4 and all(line.shape[1] == 2 for line in lines)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"lanes": [[1, 2]]}\n')
    with pytest.raises(ValueError, match='bad.json:1'):
        lane_metrics.read_tusimple(bad)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_evaluate_lanes_default_config_on_culane_night_frames(capsys):
    """Target: F1 >= 0.5 with the default configuration on CULane night frames."""
    root = sample('lanes', 'culane_nightblur_sample')
    assert cli.main(['evaluate', 'lanes', '--images', str(root / 'images'), '--gt',
                     str(root / 'gt'), '--format', 'culane', '--json']) == 0
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert results['frames'] == 5 and results['backend'] == 'espnetv2+twinlitenet'
    assert results['f1'] >= 0.5
    assert results['id_stability']['pairs'] >= 1  # 01950 and 01980 are consecutive
