"""The soak command's bookkeeping: windows, answered frames, latency and memory samples."""

import os
import time

import numpy as np
import pytest

from seg_perception.ros.driver import FrameOutputs, stamp_to_ns
from seg_perception.tools import cli
from seg_perception.tools.harness import process_rss_mb
from seg_perception.tools.soak import soak


class AnsweringDriver:
    """Answers every other frame 20 ms after it was sent; never answers the rest."""

    def __init__(self):
        self.sent = 0
        self.forgotten = []

    def send(self, msg) -> FrameOutputs:
        outputs = FrameOutputs(sent_s=time.monotonic())
        if self.sent % 2 == 0:
            outputs.received_s['semantic'] = outputs.sent_s + 0.02
        self.sent += 1
        self.stamp = stamp_to_ns(msg.header.stamp)
        return outputs

    def forget(self, stamp_ns: int) -> None:
        self.forgotten.append(stamp_ns)


def test_soak_counts_each_window_and_forgets_unanswered_frames():
    driver = AnsweringDriver()
    first, last = soak(driver, os.getpid(), np.zeros((4, 6, 3), np.uint8), rate_hz=50.0,
                       duration_s=2.0, window_s=0.8, answer_timeout_s=0.3)
    for window in (first, last):
        assert 30 <= window.sent <= 45
        assert abs(window.answered - window.sent / 2) <= 1
        assert np.allclose(window.latencies_ms, 20.0)
        assert window.rss_mb and all(rss > 10.0 for rss in window.rss_mb)
    assert last.start_s == pytest.approx(1.2)
    assert len(driver.forgotten) == driver.sent  # nothing is kept once answered or given up
    summary = first.summary()
    assert summary['latency_median_ms'] == pytest.approx(20.0)
    assert summary['rss_first_mb'] > 10.0


def test_rss_of_this_process_and_clear_errors(capsys):
    assert 10.0 < process_rss_mb(os.getpid()) < 100_000.0
    assert cli.main(['soak', '--duration', '0']) == 2
    assert 'must be positive' in capsys.readouterr().err
