"""Track ids handed out once: one counter can serve every tracker of a process."""

import threading


class TrackIdCounter:
    """Hands out track ids 1, 2, 3, ...; each id at most once in the counter's life.

    Share one counter between trackers (a node's cameras, and the trackers it makes again
    after a lifecycle ``cleanup`` / ``configure``) so that no id ever names two objects.
    Thread-safe.
    """

    def __init__(self, first_id: int = 1):
        if first_id < 1:
            raise ValueError(f'track ids start at 1 or more, got {first_id}')
        self._next_id = first_id
        self._lock = threading.Lock()

    def take(self) -> int:
        """Return a new id, never returned before by this counter."""
        with self._lock:
            track_id = self._next_id
            self._next_id += 1
            return track_id

    @property
    def next_id(self) -> int:
        """The id the next ``take`` will return."""
        return self._next_id
