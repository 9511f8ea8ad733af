"""Segmenters without a network, for tests of the layers above the backends."""

from typing import Sequence, Tuple

import numpy as np
import torch

from seg_perception import taxonomy
from seg_perception.backends.base import Segmenter
from seg_perception.components import panoptic_from_semantic

CAR = taxonomy.class_id('car')
ROAD = taxonomy.class_id('road')


class BoxSegmenter(Segmenter):
    """Road with one car box in the middle of every image, at the image's own size."""

    name = 'box'

    def __init__(self):
        self.calls = 0
        self.released = 0

    @property
    def class_ids(self) -> Tuple[int, ...]:
        return (ROAD, CAR)

    def segment(self, images: Sequence[np.ndarray]):
        self.calls += 1
        results = []
        for image in images:
            semantic = np.full(image.shape[:2], ROAD, dtype=np.uint8)
            height, width = semantic.shape
            semantic[height // 4:height // 2, width // 4:width // 2] = CAR
            results.append(panoptic_from_semantic(semantic, image.shape[:2], min_area_px=1))
        return tuple(results)

    def release(self) -> None:
        self.released += 1


class FaultySegmenter(BoxSegmenter):
    """A BoxSegmenter whose n-th call raises what ``faults[n]`` holds (0-based calls)."""

    def __init__(self, faults):
        super().__init__()
        self.faults = dict(faults)

    def segment(self, images: Sequence[np.ndarray]):
        fault = self.faults.get(self.calls)
        if fault is not None:
            self.calls += 1
            raise fault
        return super().segment(images)


def out_of_memory() -> Exception:
    """Return the error torch raises when an accelerator runs out of memory."""
    return torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')


class NoTracker:
    """A tracker that confirms nothing (for tests of what the pipeline does beside tracking)."""

    last_reset_reason = None
    uses_masks = False

    def update(self, segments, stamp_ns):
        return tuple(0 for _ in segments)

    def reset(self):
        pass
