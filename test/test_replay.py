"""``replay`` drives the running node from a bag in lock-step: every frame gets its outputs."""

import pytest
import rclpy
from ros_fixtures import RunningNode, use_private_domain
from sample_data import sample

from seg_perception.ros.replay import parse_remaps, replay_bag
from seg_perception.tools import cli
from seg_perception.tools.image_source import iter_frames
from seg_perception.tools.make_bag import write_frames

START_NS = 1_750_000_000_000_000_000


def test_remaps_parse_and_bad_ones_are_rejected():
    assert parse_remaps(['/a:=/b', '/c/image:=/d/image']) == {'/a': '/b', '/c/image': '/d/image'}
    with pytest.raises(ValueError, match='must look like'):
        parse_remaps(['/a=/b'])


@pytest.mark.ros
@pytest.mark.slow
def test_lockstep_replay_gets_every_frame_answered_with_its_stamp(tmp_path, espnetv2_weights_dir):
    frames = list(iter_frames(sample('camvid_samples', 'images'), limit=3))
    bag = tmp_path / 'drive'
    write_frames(frames, bag, '/recorded/cam/image_raw', fps=10.0, start_ns=START_NS,
                 frame_id='cam', compressed=False, storage='mcap')
    use_private_domain()
    node = RunningNode(['/replayed/cam/image_raw'], str(espnetv2_weights_dir),
                       tmp_path / 'node.log')
    seen = []
    try:
        rclpy.init()
        try:
            stats = replay_bag(bag, lockstep=True,
                               remaps=parse_remaps(['/recorded/cam/image_raw:='
                                                    '/replayed/cam/image_raw']),
                               timeout_s=120.0,
                               on_frame=lambda topic, stamp, latency: seen.append(
                                   (topic, stamp, latency)))
        finally:
            rclpy.try_shutdown()
    finally:
        node.stop()
    assert stats.answered == 3 and stats.unanswered == 0, node.log()
    assert stats.published == {'/replayed/cam/image_raw': 3}
    assert [stamp for _, stamp, _ in seen] == [START_NS, START_NS + 100_000_000,
                                               START_NS + 200_000_000]
    assert all(latency > 0 for _, _, latency in seen)


def test_replay_of_a_missing_topic_says_which_topics_exist(tmp_path, capsys):
    frames = list(iter_frames(sample('camvid_samples', 'images'), limit=1))
    bag = tmp_path / 'drive'
    write_frames(frames, bag, '/cam/image_raw', fps=10.0, start_ns=START_NS, frame_id='cam',
                 compressed=False, storage='sqlite3')
    assert cli.main(['replay', str(bag), '--topics', '/other/image']) == 2
    assert '/cam/image_raw' in capsys.readouterr().err
