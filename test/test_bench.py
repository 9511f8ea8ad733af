"""``seg-perception bench`` prints every row it promises, with plausible numbers."""

import json

from params_files import write_espnetv2_params
import pytest
from ros_fixtures import use_private_domain
from sample_data import sample

from seg_perception.tools import cli


@pytest.mark.slow
@pytest.mark.ros
def test_bench_prints_conversion_end_to_end_and_detector_rows(capsys, espnetv2_weights_dir):
    use_private_domain()
    # detector after e2e: the e2e node releases the backend's engine when it stops.
    assert cli.main(['bench', '--sections', 'conversion', 'e2e', 'detector', '--repeats', '1',
                     '--weights-dir', str(espnetv2_weights_dir), '--json']) == 0
    out = capsys.readouterr().out
    results = json.loads(out.strip().splitlines()[-1])
    rows = {row['name']: row for row in results['conversion_ms']}
    assert set(rows) == {'720p', '1080p'}
    assert (rows['1080p']['width'], rows['1080p']['height']) == (1920, 1080)
    for row in rows.values():
        for key in ('in_rgb8', 'in_bgr8', 'out_mono8', 'out_mono16', 'out_rgb8',
                    'numpy_copy_rgb8', 'numpy_copy_mono8'):
            assert 0.0 < row[key] < 10_000.0, (key, row)
    e2e = results['end_to_end_1080p']
    assert e2e['frames'] == 1 and 0.0 < e2e['median_ms'] <= e2e['max_ms']
    assert 'end to end over rclpy' in out and 'numpy_copy_rgb8' in out
    detector = results['detector_1080p']
    if detector is not None:  # None: no YOLOX weights here (the section says so)
        assert [row['tile_rows'] for row in detector] == [0, 1, 2]
        assert all(row['detect_ms'] > 0.0 and row['detections'] > 0 for row in detector)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_prints_what_lane_lines_cost(capsys):
    sample('weights', 'twinlitenet')  # skips without the sample weights
    sample('bdd100k_samples', 'twinlitenet_images')
    assert cli.main(['bench', '--sections', 'lanes', '--repeats', '1', '--json']) == 0
    out = capsys.readouterr().out
    lanes = json.loads(out.strip().splitlines()[-1])['lanes_ms']
    for key in ('espnetv2', 'espnetv2+twinlitenet', 'lane_stage', 'lanes_on_ground'):
        assert 0.0 < lanes[key] < 120_000.0, (key, lanes)
    assert lanes['lines'] >= 1  # a BDD100K frame with lane lines
    assert 'lane lines in the default config' in out and 'lane_cost' in out


@pytest.mark.slow
@pytest.mark.ros
@pytest.mark.timeout(600)
def test_bench_times_a_whole_configuration_beside_its_network_calls(
        capsys, tmp_path, espnetv2_weights_dir):
    use_private_domain()
    params = write_espnetv2_params(tmp_path / 'small.yaml', 256, 128)
    assert cli.main(['bench', '--sections', 'configuration', '--repeats', '2', '--engine',
                     'torch', '--params-file', str(params), '--weights-dir',
                     str(espnetv2_weights_dir), '--json']) == 0
    out = capsys.readouterr().out
    row = json.loads(out.strip().splitlines()[-1])['configuration_1080p_ms']
    assert row['network_calls'] == 1  # ESPNetv2 alone: one engine call per frame
    assert 0.0 < row['network_ms'] < row['total_ms']
    assert 0.0 < row['publish_ms'] < row['outside_network_ms']
    assert row['outside_network_ms'] == pytest.approx(
        row['total_ms'] - row['network_ms'] + row['publish_ms'], rel=0.5)
    stages = row['stages_ms']
    assert set(stages) == {'segmentation', 'detection', 'fusion', 'track_and_resize', 'lanes',
                           'messages', 'publish'}
    assert stages['detection'] == stages['fusion'] == 0.0  # no detector in this file
    assert stages['segmentation'] > 0.0 and stages['track_and_resize'] > 0.0
    assert 'configuration small.yaml (espnetv2, detector none)' in out
    assert 'outside the networks by stage' in out


@pytest.mark.slow
@pytest.mark.ros
@pytest.mark.timeout(300)
def test_bench_drives_the_main_job_per_variant_and_scores_it(
        capsys, tmp_path, espnetv2_weights_dir):
    use_private_domain()
    images = sample('camvid_samples', 'images')
    labels = sample('camvid_samples', 'labels')
    params = write_espnetv2_params(tmp_path / 'small.yaml', 256, 128)
    assert cli.main(['bench', '--sections', 'drive', '--drive-limit', '2', '--drive-variants',
                     'espnetv2_torch_authors', '--drive-source', str(images), '--drive-labels',
                     str(labels), '--params-file', str(params), '--weights-dir',
                     str(espnetv2_weights_dir), '--json']) == 0
    out = capsys.readouterr().out
    row, = json.loads(out.strip().splitlines()[-1])['drive']  # only the variant asked for
    assert (row['key'], row['frames']) == ('espnetv2_torch_authors', 2)
    assert 0.0 < row['median_ms'] and row['frames_per_s'] == pytest.approx(1e3 / row['mean_ms'])
    assert 0.2 < row['mean_iou'] < 1.0 and 0.5 < row['pixel_accuracy'] <= 1.0  # 2 real frames
    assert 'ESPNetv2 alone, torch, argmax at the input size' in out and '1.00x' in out
