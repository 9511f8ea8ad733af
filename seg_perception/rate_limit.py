"""Rate-limit repeated messages per kind, so a broken camera cannot flood the log."""

import re
import time
from typing import Dict, Hashable, Optional, Tuple


def message_kind(text: str) -> str:
    """Return the text with every number replaced by '#' (one kind for any values)."""
    return re.sub(r'\d+', '#', text)


class RateLimiter:
    """Lets a message of a given key through at most once per ``period_s``.

    Args:
        period_s: minimum seconds between two messages of the same key.
        clock: returns seconds (monotonic); injectable for tests.

    """

    def __init__(self, period_s: float = 5.0, clock=time.monotonic):
        self.period_s = period_s
        self._clock = clock
        self._state: Dict[Hashable, Tuple[float, int]] = {}

    def allow(self, key: Hashable) -> Optional[int]:
        """Return None to suppress, or the number of messages suppressed since the last one."""
        now = self._clock()
        last, suppressed = self._state.get(key, (None, 0))
        if last is not None and now - last < self.period_s:
            self._state[key] = (last, suppressed + 1)
            return None
        self._state[key] = (now, 0)
        return suppressed
