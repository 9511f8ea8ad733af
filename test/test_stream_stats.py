"""Per-camera health figures and status levels."""

from seg_perception.stream_stats import ERROR, HealthLimits, OK, StreamStats, WARN


def _stats():
    now = [100.0]
    return now, StreamStats(window_s=10.0, clock=lambda: now[0])


def test_rates_latency_percentiles_and_totals_over_the_window():
    now, stats = _stats()
    for index in range(20):  # 10 Hz for 2 s, every other frame processed
        now[0] = 100.0 + 0.1 * index
        stats.on_received()
        if index % 2:
            stats.on_processed(latency_ms=100.0 + index)
        else:
            stats.on_dropped()
    now[0] = 102.0
    level, message, values = stats.summary()
    assert (level, message) == (OK, 'ok')
    assert values['input rate (Hz)'] == '10.00'
    assert values['processed rate (Hz)'] == '5.00'
    assert values['latency max (ms)'] == '119.0'
    assert values['latency p50 (ms)'] == '110.0'
    assert (values['received'], values['processed'], values['dropped']) == ('20', '10', '10')


def test_silent_camera_goes_warn_then_error_and_keeps_last_error():
    now, stats = _stats()
    stats.on_received()
    stats.on_rejected('truncated message')
    now[0] = 103.0
    level, message, values = stats.summary(HealthLimits(silent_warn_s=2.0, silent_error_s=10.0))
    assert level == WARN and 'no image for 3.0 s' in message
    assert values['last error'] == 'truncated message' and values['rejected'] == '1'
    now[0] = 111.0
    assert stats.summary()[0] == ERROR


def test_latency_over_budget_warns():
    now, stats = _stats()
    for _ in range(5):
        stats.on_received()
        stats.on_processed(latency_ms=900.0)
    level, message, _ = stats.summary(HealthLimits(latency_budget_ms=500.0))
    assert level == WARN and 'over the 500 ms budget' in message
    assert stats.summary(HealthLimits(latency_budget_ms=1000.0))[0] == OK


def test_counting_from_other_threads_while_summarising_is_safe():
    import threading

    stats = StreamStats(window_s=0.01)
    stop = threading.Event()

    def count():
        while not stop.is_set():
            stats.on_received()
            stats.on_processed(1.0)

    workers = [threading.Thread(target=count) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(2000):
            stats.summary()  # raised 'deque mutated during iteration' without the lock
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert int(stats.summary()[2]['received']) == stats.totals['received'] > 0
