"""The worker of a fleet run: one model replica, loaded once, that segments whole bags in turn.

``fleet`` runs this class as a Ray actor (``ray.remote(BagWorker)``); it has no Ray code itself
and works as a plain object, which is how the tests drive it without a cluster. Each bag goes
through ``process_bag.process_one_bag`` (the same per-bag call as ``process``) with fresh
trackers, its frames in bag order.
"""

import os
import socket
import threading
import time
from typing import Dict, Tuple

from seg_perception.ros import bag_io
from seg_perception.tools.fleet_inputs import BagJob, checksum
from seg_perception.tools.fleet_manifest import BagRecord, utc_now

#: Test hook: a worker given this bag (relative path) exits abruptly on the bag's first attempt.
CRASH_ENV = 'SEG_PERCEPTION_FLEET_CRASH_ON'

#: Warnings about skipped frames kept in a bag's error text when every frame failed.
_WARNINGS_KEPT = 3


class BagWorker:
    """Loads the backend of a parameter file once, then processes bags one at a time.

    Args:
        params_file: node parameter file (backend, input size, tracker settings).
        weights_dir: folder holding the checkpoint ('' = the file's ``weights_dir``).
        torch_threads: intra-op threads of torch in this process (cores / workers on a node).
        crash_on: test hook (see ``CRASH_ENV``); '' in normal use.

    """

    def __init__(self, params_file: str, weights_dir: str = '', torch_threads: int = 1,
                 crash_on: str = ''):
        import torch

        from seg_perception.build import build_segmenter
        from seg_perception.tools.process_bag import load_settings

        torch.set_num_threads(max(1, int(torch_threads)))
        self.settings = load_settings(params_file, weights_dir)
        self.segmenter = build_segmenter(self.settings)
        self.identity = f'{socket.gethostname()}:{os.getpid()}'
        self._crash_on = crash_on
        self._lock = threading.Lock()
        self._current: Tuple[str, int] = ('', 0)

    def ready(self) -> str:
        """Return ``host:pid`` once the model is loaded (the driver waits on this)."""
        return self.identity

    def progress(self) -> Tuple[str, int]:
        """Return (bag being processed or '', frames done in it); safe while ``process`` runs."""
        with self._lock:
            return self._current

    def _on_frame(self, bag: str):
        def update(done: int, total: int, fps: float) -> None:
            with self._lock:
                self._current = (bag, done)
        return update

    def process(self, job: BagJob, settings_digest: str, attempt: int = 1) -> Dict:
        """Segment one bag into ``job.out_path``; return its manifest record as a dict.

        Never raises for a bad bag: the reason goes into the record's ``error``.
        """
        from seg_perception.build import build_pipeline
        from seg_perception.tools.process_bag import process_one_bag

        if self._crash_on and self._crash_on == job.bag and attempt == 1:
            os._exit(3)  # test hook: a worker process that dies mid-bag
        start = time.perf_counter()
        record = BagRecord(bag=job.bag, output=job.output, input_fingerprint=job.fingerprint,
                           settings_digest=settings_digest, attempts=attempt,
                           worker=self.identity)
        warnings = []
        with self._lock:
            self._current = (job.bag, 0)
        try:
            record.input_checksum = checksum(job.in_path)
            stats = process_one_bag(job.in_path, job.out_path,
                                    build_pipeline(self.settings, self.segmenter),
                                    self.settings,
                                    overwrite=True, progress=self._on_frame(job.bag),
                                    warn=warnings.append)
            record.frames, record.skipped_frames = stats.frames, stats.skipped
            if stats.frames == 0:
                record.error = (f'none of its {stats.skipped} camera frames could be segmented: '
                                + '; '.join(warnings[:_WARNINGS_KEPT]))
        except Exception as error:  # any failure is this bag's, not the run's
            record.error = str(error) if isinstance(error, bag_io.BagError) \
                else f'{type(error).__name__}: {error}'
        finally:
            with self._lock:
                self._current = ('', 0)
        if record.error:
            record.output = None
        record.seconds = round(time.perf_counter() - start, 3)
        record.finished = utc_now()
        return record.__dict__.copy()

    def release(self) -> None:
        """Free the model (GPU memory) before the actor goes away."""
        self.segmenter.release()
