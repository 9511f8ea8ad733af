"""Damaged bags: process, render, replay and evaluate semantic print one line and exit 1."""

from pathlib import Path
import shutil

from bag_damage import (drop_message_counts, make_small_bag, scribble, small_frames, truncate)
from fake_segmenters import BoxSegmenter
from params_files import write_espnetv2_params
import pytest

from seg_perception.pipeline import Pipeline
from seg_perception.ros import bag_io
from seg_perception.settings_file import read_file_settings
from seg_perception.tools import cli
from seg_perception.tools.process_bag import FrameProgressBar, partial_path, process_one_bag
from seg_perception.tracking import Tracker, TrackerConfig

CAMVID_LABELS = ('camvid_samples', 'labels')


#: The node's default settings, as a parameter file without entries gives them.
DEFAULTS = read_file_settings(None)


def box_pipeline() -> Pipeline:
    """Return a pipeline with the fake segmenter (no network)."""
    return Pipeline(BoxSegmenter(), lambda: Tracker(TrackerConfig()))


@pytest.fixture(scope='module')
def good_bags(tmp_path_factory):
    """Map storage -> (3-frame 160x120 bag made by make-bag, its result bag)."""
    root = tmp_path_factory.mktemp('good')
    frames = small_frames(root / 'frames')
    bags = {}
    for storage in bag_io.STORAGES:
        bag = make_small_bag(frames, root / f'in_{storage}', storage)
        result = root / f'result_{storage}'
        process_one_bag(bag, result, box_pipeline(), DEFAULTS)
        bags[storage] = (bag, result)
    return bags


def damaged_copy(source: Path, target: Path, damage) -> Path:
    """Copy a bag folder to ``target`` and damage the copy."""
    shutil.copytree(source, target)
    damage(target)
    return target


#: Damage -> what the one-line error must say.
OPEN_DAMAGES = {
    'no_message_counts': (drop_message_counts, 'topics_with_message_count'),
    'truncated': (truncate, ''),
}


def assert_one_line(err: str, bag: Path, reason: str = '') -> None:
    """Check that the last stderr line names the bag (and reason) and nothing is a traceback."""
    assert 'Traceback' not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith('seg-perception ') and ': error: ' in line
    assert str(bag) in line and reason in line


@pytest.mark.timeout(60)
@pytest.mark.parametrize('storage', bag_io.STORAGES)
@pytest.mark.parametrize('damage', sorted(OPEN_DAMAGES))
def test_process_and_replay_refuse_a_damaged_bag(tmp_path, good_bags, storage, damage, capsys,
                                                 monkeypatch):
    function, reason = OPEN_DAMAGES[damage]
    if storage == 'sqlite3' and damage == 'truncated':
        reason = 'database disk image is malformed'
    bag = damaged_copy(good_bags[storage][0], tmp_path / 'bag', function)
    out = tmp_path / 'out'
    assert cli.main(['process', str(bag), str(out)]) == 1  # fails before the model loads
    assert_one_line(capsys.readouterr().err, bag, reason)
    assert not out.exists() and not partial_path(out).parent.exists()

    monkeypatch.setenv('ROS_DOMAIN_ID', '93')
    assert cli.main(['replay', str(bag), '--rate', '100']) == 1
    assert_one_line(capsys.readouterr().err, bag, reason)


@pytest.mark.timeout(60)
def test_truncated_single_mcap_file(tmp_path, good_bags, capsys):
    mcap = next(good_bags['mcap'][0].glob('*.mcap'))
    single = tmp_path / 'run.mcap'
    single.write_bytes(mcap.read_bytes())
    assert bag_io.is_bag(single) and bag_io.bag_storage(single) == 'mcap'
    stats = process_one_bag(single, tmp_path / 'out', box_pipeline(), DEFAULTS)
    assert (stats.frames, stats.skipped) == (3, 0)  # a whole single .mcap file is a bag
    truncate(single)
    assert cli.main(['process', str(single), str(tmp_path / 'out2')]) == 1
    assert_one_line(capsys.readouterr().err, single, 'File end magic is invalid')


@pytest.mark.timeout(60)
@pytest.mark.parametrize('storage', bag_io.STORAGES)
def test_damage_found_while_reading_leaves_no_output(tmp_path, good_bags, storage):
    """Scribbled pages: the reader fails (or comes up short) mid-bag; nothing is written."""
    bag = damaged_copy(good_bags[storage][0], tmp_path / 'bag', scribble)
    out = tmp_path / 'out'
    with pytest.raises(bag_io.BagReadError, match=str(bag)):
        process_one_bag(bag, out, box_pipeline(), DEFAULTS)
    assert not out.exists() and not partial_path(out).parent.exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize('storage', bag_io.STORAGES)
@pytest.mark.parametrize('damage', ['no_message_counts', 'truncated', 'scribbled'])
def test_render_and_evaluate_refuse_a_damaged_result_bag(tmp_path, good_bags, storage, damage,
                                                         capsys):
    function = {'no_message_counts': drop_message_counts, 'truncated': truncate,
                'scribbled': scribble}[damage]
    result = damaged_copy(good_bags[storage][1], tmp_path / 'result', function)
    assert cli.main(['render', str(result), str(tmp_path / 'png')]) == 1
    assert_one_line(capsys.readouterr().err, result)
    assert not list((tmp_path / 'png').glob('*.png')) if (tmp_path / 'png').exists() else True
    from sample_data import sample
    labels = sample(*CAMVID_LABELS)
    assert cli.main(['evaluate', 'semantic', '--pred', str(result), '--gt', str(labels),
                     '--format', 'camvid']) == 1
    assert_one_line(capsys.readouterr().err, result)


@pytest.mark.timeout(60)
def test_replay_stops_cleanly_on_damage_found_mid_bag(tmp_path, good_bags, capsys,
                                                      monkeypatch):
    monkeypatch.setenv('ROS_DOMAIN_ID', '94')
    bag = damaged_copy(good_bags['mcap'][0], tmp_path / 'bag', scribble)
    assert cli.main(['replay', str(bag), '--rate', '100']) == 1
    assert_one_line(capsys.readouterr().err, bag, 'truncated or corrupt')


def test_undamaged_result_bag_still_renders(tmp_path, good_bags):
    assert cli.main(['render', str(good_bags['sqlite3'][1]), str(tmp_path / 'png')]) == 0
    assert len(list((tmp_path / 'png').glob('*.png'))) == 3


def test_frame_progress_bar_shows_frames_and_rate(capsys):
    bar = FrameProgressBar('run_1')
    for done in (1, 2, 3):
        bar(done, 3, 10.0)
    bar.write('warning: frame skipped')
    bar.close()
    err = capsys.readouterr().err
    assert 'run_1' in err and '3/3' in err and 'frame/s' in err
    assert 'warning: frame skipped' in err


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_process_cli_damage_after_model_load_exits_1(tmp_path, good_bags, capsys,
                                                     espnetv2_weights_dir):
    """The real network loads, the reader fails mid-bag: one line, exit 1, no output left."""
    params = write_espnetv2_params(tmp_path / 'small.yaml', 256, 128)
    bag = damaged_copy(good_bags['sqlite3'][0], tmp_path / 'bag', scribble)
    out = tmp_path / 'out'
    assert cli.main(['process', str(bag), str(out), '--params-file', str(params),
                     '--weights-dir', str(espnetv2_weights_dir)]) == 1
    assert_one_line(capsys.readouterr().err, bag)
    assert not out.exists() and not partial_path(out).parent.exists()
