"""Composition: a secondary backend paints some of its classes over a primary backend's result.

Example: TwinLiteNet (BDD100K) finds lane lines, which a Cityscapes model has no class for;
``espnetv2+twinlitenet`` paints them as ``lane_marking`` over ESPNetv2's road. Pixels of the
primary's thing instances are never painted over, so instances and tracks are the primary's.
"""

import dataclasses
from typing import Sequence, Tuple

import cv2
import numpy as np

from seg_perception import taxonomy
from seg_perception.backends.base import BackendError, BackendOptions, Segmenter
from seg_perception.structures import PanopticResult


class CompositeBackend(Segmenter):
    """Run ``primary`` and ``secondary`` on each batch; paint ``paint_classes`` of the secondary.

    Args:
        primary: gives the working resolution, every other class and all thing instances.
        secondary: its pixels of ``paint_classes`` replace the primary's labels there (its label
            map is resized to the primary's with nearest-neighbour interpolation), except on
            pixels of the primary's instances.
        paint_classes: canonical class names taken from the secondary, e.g. ``('lane_marking',)``.

    """

    def __init__(self, primary: Segmenter, secondary: Segmenter, paint_classes: Sequence[str]):
        if not paint_classes:
            raise BackendError('composite backend: name at least one class to paint')
        self.primary = primary
        self.secondary = secondary
        primary.keep_maps_at_input_size()  # the painted lane lines need its full resolution
        self.paint_ids = tuple(sorted({taxonomy.class_id(name) for name in paint_classes}))
        missing = set(self.paint_ids) - set(secondary.class_ids)
        if missing:
            names = [taxonomy.CLASS_BY_ID[i].name for i in sorted(missing)]
            raise BackendError(
                f'composite backend: {secondary.name or "the secondary"} never outputs {names}')
        self.name = f'{primary.name}+{secondary.name}'
        #: The primary's device and parallel frames (the node batches by them).
        self.device = getattr(primary, 'device', 'cpu')
        self.parallel_frames = primary.parallel_frames
        self.engine_description = ' + '.join(
            d for d in (primary.engine_description, secondary.engine_description) if d)
        self._paint_table = np.zeros(256, dtype=np.uint8)  # 1: painted (a cv2.LUT table)
        self._paint_table[list(self.paint_ids)] = 1

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Union of the primary's classes and the painted ones, ascending."""
        return tuple(sorted(set(self.primary.class_ids) | set(self.paint_ids)))

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch with both backends and compose; see ``Segmenter.segment``."""
        if not images:
            return ()
        primaries = self.primary.segment(images)
        secondaries = self.secondary.segment(images)
        return tuple(self.compose(p, s) for p, s in zip(primaries, secondaries))

    def compose(self, primary: PanopticResult, secondary: PanopticResult) -> PanopticResult:
        """Paint the secondary's ``paint_ids`` pixels over ``primary`` outside its instances.

        Lane lines a backend found directly (``PanopticResult.lanes``) are the secondary's when
        it has them, else the primary's.
        """
        height, width = primary.semantic.shape
        painted = secondary.semantic
        if painted.shape != (height, width):
            painted = cv2.resize(painted, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
        # cv2.LUT and copyto: 0.35 ms at 1024x512 here, where numpy's lookup of the bool table
        # and the masked assignment took 1.1-1.5 ms (the same map).
        mask = cv2.LUT(painted, self._paint_table).view(bool)
        mask &= primary.instance_map == 0
        lanes = secondary.lanes if secondary.lanes is not None else primary.lanes
        if not mask.any():
            return dataclasses.replace(primary, lanes=lanes)
        semantic = primary.semantic.copy()
        np.copyto(semantic, painted, where=mask)
        return PanopticResult(semantic=semantic, instance_map=primary.instance_map,
                              segments=primary.segments, lanes=lanes)

    def release(self) -> None:
        """Release both backends."""
        self.primary.release()
        self.secondary.release()


def espnetv2_with_twinlitenet_lanes(options: BackendOptions = BackendOptions()) -> Segmenter:
    """Build ``espnetv2+twinlitenet``: ESPNetv2 (Cityscapes) with TwinLiteNet's lane lines.

    Both backends share ``options``, except that TwinLiteNet always runs at its own input size
    (640x360; the input size parameters are ESPNetv2's) and ``weights_path`` names ESPNetv2's
    file only (TwinLiteNet's ``best.pth`` is looked for in ``weights_dirs`` and the cache).
    """
    from seg_perception.backends.espnetv2 import ESPNetv2Backend
    from seg_perception.backends.twinlitenet import TwinLiteNetBackend
    primary = ESPNetv2Backend(options)
    secondary = TwinLiteNetBackend(dataclasses.replace(
        options, weights_path='', input_width=0, input_height=0))
    return CompositeBackend(primary, secondary, ('lane_marking',))


def espnetv2_with_lstr_lanes(options: BackendOptions = BackendOptions()) -> Segmenter:
    """Build ``espnetv2+lstr``: ESPNetv2 (Cityscapes) with LSTR's (TuSimple) lane lines.

    LSTR's lines are the frame's lane instances and are painted as ``lane_marking``;
    ``weights_path`` names ESPNetv2's file only (LSTR's is looked for in ``weights_dirs``).
    """
    from seg_perception.backends.espnetv2 import ESPNetv2Backend
    from seg_perception.backends.lstr import LSTRBackend
    primary = ESPNetv2Backend(options)
    secondary = LSTRBackend(dataclasses.replace(
        options, weights_path='', input_width=0, input_height=0))
    return CompositeBackend(primary, secondary, ('lane_marking',))
