"""Build the segmenter and the pipeline from settings.

The one way the node, ``process``, ``fleet`` and ``bench`` assemble them.
"""

from typing import Callable, Optional, Tuple

import numpy as np

from seg_perception.backends.base import Segmenter
from seg_perception.backends.registry import create_backend
from seg_perception.pipeline import Pipeline
from seg_perception.settings import NodeSettings
from seg_perception.tracking import Tracker, TrackIdCounter


def build_segmenter(settings: NodeSettings) -> Segmenter:
    """Return the backend the settings name, loaded (weights read, device chosen).

    Raises:
        BackendError, WeightsError: the backend cannot be made (the message says why).

    """
    return create_backend(settings.backend, settings.backend_options)


def build_pipeline(settings: NodeSettings, segmenter: Optional[Segmenter] = None,
                   track_ids: Optional[TrackIdCounter] = None,
                   allocate_labels: Callable[[Tuple[int, int], type], np.ndarray] = np.empty
                   ) -> Pipeline:
    """Return the pipeline of the settings: their segmenter and one tracker per camera.

    Args:
        settings: the node's settings (``settings_file.read_file_settings`` for a file).
        segmenter: an already loaded segmenter; built from the settings when None.
        track_ids: where every camera's tracker takes its ids; a new counter when None. Give
            the same counter to pipelines that must never reuse each other's ids.
        allocate_labels: allocator of the full-resolution output maps (see ``Pipeline``).

    """
    segmenter = segmenter if segmenter is not None else build_segmenter(settings)
    ids = track_ids if track_ids is not None else TrackIdCounter()
    tracker_config = settings.tracker
    return Pipeline(segmenter, lambda: Tracker(tracker_config, ids),
                    allocate_labels=allocate_labels)
