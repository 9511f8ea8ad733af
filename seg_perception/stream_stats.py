"""Per-camera health figures for diagnostics: rates, drops, latency percentiles, last error."""

from collections import deque
from dataclasses import dataclass
import threading
import time
from typing import Deque, Dict, Optional, Tuple

import numpy as np

OK, WARN, ERROR = 0, 1, 2


@dataclass(frozen=True)
class HealthLimits:
    """When a camera's status leaves OK.

    Attributes:
        silent_warn_s: no input for this long -> WARN, seconds.
        silent_error_s: no input for this long -> ERROR, seconds.
        latency_budget_ms: p90 latency above it -> WARN, milliseconds (0 = no budget).

    """

    silent_warn_s: float = 2.0
    silent_error_s: float = 10.0
    latency_budget_ms: float = 0.0


class StreamStats:
    """Counts and timings of one camera stream over a sliding window; safe across threads.

    The node counts from its image callbacks and its worker thread while a timer reads the
    summary, so every method holds one lock (iterating a deque that another thread appends to
    raises RuntimeError).

    Args:
        window_s: length of the window for rates and percentiles, seconds.
        clock: monotonic seconds; injectable for tests.

    """

    def __init__(self, window_s: float = 10.0, clock=time.monotonic):
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._started_s = clock()
        self._received: Deque[float] = deque()
        self._processed: Deque[Tuple[float, float]] = deque()  # (time, latency ms)
        self.totals = {'received': 0, 'processed': 0, 'dropped': 0, 'rejected': 0, 'failed': 0}
        self.last_error = ''
        self.last_received_s: Optional[float] = None

    def on_received(self) -> None:
        """Count an input message."""
        with self._lock:
            now = self._clock()
            self.totals['received'] += 1
            self.last_received_s = now
            self._received.append(now)

    def on_processed(self, latency_ms: float) -> None:
        """Count a frame whose outputs were published, with its receive-to-publish latency."""
        with self._lock:
            self.totals['processed'] += 1
            self._processed.append((self._clock(), float(latency_ms)))

    def on_dropped(self) -> None:
        """Count a frame replaced by a newer one before the model took it."""
        with self._lock:
            self.totals['dropped'] += 1

    def on_rejected(self, reason: str) -> None:
        """Count a malformed frame."""
        with self._lock:
            self.totals['rejected'] += 1
            self.last_error = reason

    def on_failed(self, reason: str) -> None:
        """Count a frame the backend failed on."""
        with self._lock:
            self.totals['failed'] += 1
            self.last_error = reason

    def _trim(self, now: float) -> None:
        while self._received and now - self._received[0] > self.window_s:
            self._received.popleft()
        while self._processed and now - self._processed[0][0] > self.window_s:
            self._processed.popleft()

    def summary(self, limits: HealthLimits = HealthLimits()) -> Tuple[int, str, Dict[str, str]]:
        """Return (level, message, values) for a diagnostic status.

        ``values`` holds input and processed rates (Hz) over the window, latency p50/p90/max
        (ms), the totals and the last error, all as strings.
        """
        with self._lock:
            now = self._clock()
            self._trim(now)
            received, processed = len(self._received), len(self._processed)
            latencies = np.array([latency for _, latency in self._processed])
            totals = dict(self.totals)
            last_error = self.last_error
            last_received_s = self.last_received_s
        span = min(self.window_s, max(now - self._started_s, 1e-9))
        values = {
            'input rate (Hz)': f'{received / span:.2f}',
            'processed rate (Hz)': f'{processed / span:.2f}',
        }
        for name, quantile in (('p50', 50), ('p90', 90), ('max', 100)):
            value = np.percentile(latencies, quantile) if latencies.size else float('nan')
            values[f'latency {name} (ms)'] = f'{value:.1f}'
        values.update({name: str(count) for name, count in totals.items()})
        values['last error'] = last_error
        silent_s = now - (last_received_s if last_received_s is not None else self._started_s)
        if silent_s >= limits.silent_error_s:
            return ERROR, f'no image for {silent_s:.1f} s', values
        if silent_s >= limits.silent_warn_s:
            return WARN, f'no image for {silent_s:.1f} s', values
        if limits.latency_budget_ms > 0 and latencies.size \
                and np.percentile(latencies, 90) > limits.latency_budget_ms:
            return WARN, (f'latency p90 {np.percentile(latencies, 90):.0f} ms over the '
                          f'{limits.latency_budget_ms:.0f} ms budget'), values
        return OK, 'ok', values
