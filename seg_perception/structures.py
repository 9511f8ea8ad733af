"""Plain data types passed between the layers: frames in, segmentation and tracks out.

All image-shaped arrays are row-major (H, W) in the input image's pixel grid: x grows to the right,
y downwards, origin at the top-left pixel's corner. Boxes are (x_min, y_min, x_max, y_max) float
pixels in that grid. Stamps are integer nanoseconds copied from the input header.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One camera image.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        stamp_ns: acquisition time from the input header, nanoseconds.
        frame_id: the input header's optical frame id.
        camera: name of the camera stream (its namespace, e.g. ``/cam/front``); one tracker each.

    """

    image: np.ndarray
    stamp_ns: int = 0
    frame_id: str = ''
    camera: str = ''

    def __post_init__(self):
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(
                f'Frame.image must be (H, W, 3) uint8 RGB, got {self.image.shape} '
                f'{self.image.dtype}'
            )
        if self.image.shape[0] == 0 or self.image.shape[1] == 0:
            raise ValueError(f'Frame.image has zero size {self.image.shape[:2]}')

    @property
    def size(self) -> Tuple[int, int]:
        """(height, width) in pixels."""
        return self.image.shape[0], self.image.shape[1]


@dataclass(frozen=True)
class Segment:
    """One thing instance found by the segmenter, before tracking.

    Attributes:
        segment_id: value of this instance in ``PanopticResult.instance_map`` (1-based).
        class_id: canonical class id (see ``taxonomy``).
        score: confidence in [0, 1].
        bbox: (x_min, y_min, x_max, y_max) float pixels of the input image.
        area: number of pixels of the instance at the input resolution (float, may be estimated).

    """

    segment_id: int
    class_id: int
    score: float
    bbox: Tuple[float, float, float, float]
    area: float


@dataclass(frozen=True)
class PanopticResult:
    """A backend's output for one frame, in canonical classes.

    Attributes:
        semantic: (h, w) uint8 canonical class ids; 255 = unlabeled. ``(h, w)`` is the
            backend's working resolution, which may differ from the input image's.
        instance_map: (h, w) int32; 0 = no instance, k in 1..len(segments) = the pixels of
            ``segments[k - 1]``.
        segments: the thing instances; ``segments[i].segment_id == i + 1`` (checked), so a
            segment id indexes a lookup table of ``len(segments) + 1`` entries directly. Boxes
            are already in input-image pixels.
        lanes: lane lines (``seg_perception.lanes.LaneLine``, input-image pixels) of a backend
            that finds them directly; None when it does not (they are then grouped from the
            ``lane_marking`` pixels).

    """

    semantic: np.ndarray
    instance_map: np.ndarray
    segments: Tuple[Segment, ...] = ()
    lanes: Optional[Tuple[Any, ...]] = None

    def __post_init__(self):
        if self.semantic.shape != self.instance_map.shape:
            raise ValueError(
                f'semantic {self.semantic.shape} and instance_map {self.instance_map.shape} '
                'must have the same shape'
            )
        for index, segment in enumerate(self.segments):
            if segment.segment_id != index + 1:
                raise ValueError(f'segments[{index}].segment_id is {segment.segment_id}; '
                                 f'segment ids must be 1..{len(self.segments)} in order')


@dataclass(frozen=True)
class TrackedObject:
    """A thing instance with the id of the track it belongs to.

    Attributes:
        track_id: id unique within the tracker's lifetime (>= 1).
        class_id: canonical class id.
        score: confidence in [0, 1].
        bbox: (x_min, y_min, x_max, y_max) float pixels of the input image.

    """

    track_id: int
    class_id: int
    score: float
    bbox: Tuple[float, float, float, float]


@dataclass(frozen=True)
class FrameResult:
    """Everything the pipeline says about one frame, at the input resolution.

    Attributes:
        frame: the input frame (its stamp, frame_id and camera are copied to every output).
        semantic: (H, W) uint8 canonical class ids; 255 = unlabeled.
        instances: (H, W) uint16 track ids; 0 = no instance.
        objects: one entry per tracked thing visible in this frame.
        timings_ms: wall-clock time per pipeline stage, milliseconds.
        warnings: things worth a logged warning (e.g. the tracker reset on a stamp going back).
        lanes: tracked lane lines (``seg_perception.lanes.LaneLine``, input pixels, ids from the
            camera's lane tracker; no ground points: those need the camera model).

    """

    frame: Frame
    semantic: np.ndarray
    instances: np.ndarray
    objects: Tuple[TrackedObject, ...] = ()
    timings_ms: Dict[str, float] = field(default_factory=dict)
    warnings: Tuple[str, ...] = ()
    lanes: Tuple[Any, ...] = ()
