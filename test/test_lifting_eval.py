"""``evaluate lifting`` on the real KITTI tracking labels, and its parts on small inputs."""

import json
from pathlib import Path

import numpy as np
import pytest
from sample_data import sample

from seg_perception.tools import cli
from seg_perception.tools import lifting_eval as le


@pytest.fixture(scope='module')
def kitti_root() -> Path:
    return sample('sequences', 'kitti_tracking_mini')


def test_calib_reader_and_camera(kitti_root, tmp_path):
    calib = le.read_kitti_calib(kitti_root / 'training' / 'calib' / '0001.txt')
    assert calib['P2'].shape == (3, 4) and calib['R0_rect'].shape == (3, 3)
    camera = le.kitti_camera(calib, (1242, 375))
    # base is on the ground below camera 0; camera 2 sits 6 cm to its left.
    np.testing.assert_allclose(camera.origin_base, [-0.0027, 0.0598, 1.6496], atol=1e-3)
    bad = tmp_path / 'bad.txt'
    bad.write_text('P0: 1 2 3\n')
    with pytest.raises(ValueError, match='P2'):
        le.read_kitti_calib(bad)


def test_error_stats_by_band():
    truth = np.array([[10.0, 0, 0], [30.0, 0, 0], [50.0, 0, 0], [15.0, 0, 0]])
    estimate = truth + [[1.0, 0, 0], [3.0, 0, 0], [np.nan, 0, 0], [0.0, 1.5, 0]]
    stats = le.error_stats(estimate, truth, truth[:, 0])
    assert stats['0-20']['count'] == 2 and stats['0-20']['median_rel'] == pytest.approx(0.1)
    assert stats['20-40']['median_m'] == pytest.approx(3.0)
    assert stats['40+']['count'] == 0 and stats['40+']['missing'] == 1
    assert stats['all']['count'] == 3


def test_command_on_kitti_0001_beats_the_baseline(kitti_root, capsys):
    code = cli.main(['evaluate', 'lifting', '--kitti-root', str(kitti_root),
                     '--sequences', '0001', '--json'])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result['sequences'] == ['0001']
    ours, baseline = result['methods']['ours'], result['methods']['baseline']
    # The issue: the flat-ground baseline is about 20 % off; ours must be <= 10 % within 40 m.
    assert 0.15 < baseline['0-40']['median_rel'] < 0.25
    assert ours['0-40']['median_rel'] < baseline['0-40']['median_rel']
    assert ours['0-40']['median_rel'] <= 0.10
    assert ours['0-40']['count'] > 2000 and ours['0-40']['missing'] == 0
    assert ours['40+']['median_rel'] < baseline['40+']['median_rel']


def test_command_errors(kitti_root, tmp_path):
    assert cli.main(['evaluate', 'lifting', '--kitti-root', str(tmp_path)]) == 2
    assert cli.main(['evaluate', 'lifting', '--kitti-root', str(kitti_root),
                     '--sequences', '9999']) == 2


P2 = np.array([[721.5377, 0.0, 609.5593, 44.85728],
               [0.0, 721.5377, 172.854, 0.2163791],
               [0.0, 0.0, 1.0, 0.002745884]])


def write_sequence(root: Path, name: str, rng: np.random.Generator, frames: int = 4):
    """KITTI-layout labels and calib of prior-sized cars on flat ground 1.65 m below camera 0."""
    (root / 'label_02').mkdir(parents=True, exist_ok=True)
    (root / 'calib').mkdir(exist_ok=True)
    flat = ' '.join(f'{v:.9e}' for v in P2.ravel())
    (root / 'calib' / f'{name}.txt').write_text(
        f'P0: {flat}\nP1: {flat}\nP2: {flat}\nP3: {flat}\n'
        'R0_rect: 1 0 0 0 1 0 0 0 1\n')
    h, w, length = 1.53, 1.63, 3.88
    lines = []
    for frame in range(frames):
        for track in range(4):
            x, z = rng.uniform(-6.0, 6.0), rng.uniform(8.0, 45.0)
            corners = np.array([[x + sx * w / 2, 1.65 - sy * h, z + sz * length / 2, 1.0]
                                for sx in (-1, 1) for sy in (0, 1) for sz in (-1, 1)])
            uv = corners @ P2.T
            uv = uv[:, :2] / uv[:, 2:]
            x1, y1 = uv.min(axis=0)
            x2, y2 = uv.max(axis=0)
            lines.append(f'{frame} {track} Car 0 0 0 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} '
                         f'{h} {w} {length} {x:.3f} 1.65 {z:.3f} 0.0')
    lines.append(f'{frames - 1} -1 DontCare -1 -1 -10 0 0 1241 374 -1 -1 -1 -1000 -1000 -1000 -10')
    (root / 'label_02' / f'{name}.txt').write_text('\n'.join(lines) + '\n')


def test_synthetic_kitti_folder_with_two_sequences(tmp_path, capsys):
    rng = np.random.default_rng(3)
    for name in ('0003', '0007'):
        write_sequence(tmp_path / 'training', name, rng)
    code = le.main(['--kitti-root', str(tmp_path), '--json'])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith('sequence 0007') for line in out)
    result = json.loads(out[-1])
    assert result['sequences'] == ['0003', '0007']
    assert set(result['per_sequence']) == {'0003', '0007'}
    ours, baseline = result['methods']['ours'], result['methods']['baseline']
    assert ours['all']['count'] == 32
    # Prior-sized cars on the flat ground: ours is exact up to box-edge geometry; the baseline
    # still stops at the near side.
    assert ours['all']['p90_rel'] < 0.03
    assert baseline['all']['median_rel'] > 0.04
    assert result['methods']['ours']['40+']['count'] >= 0


def test_missing_calibration(tmp_path):
    write_sequence(tmp_path / 'training', '0003', np.random.default_rng(0))
    (tmp_path / 'training' / 'calib' / '0003.txt').unlink()
    with pytest.raises(FileNotFoundError, match='calibration'):
        le.evaluate_lifting(tmp_path)
