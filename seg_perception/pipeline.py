"""Segment, track and bring results back to the input resolution: the node's core, without ROS."""

import dataclasses
import time
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

import cv2
import numpy as np

from seg_perception import taxonomy
from seg_perception.backends.base import Segmenter
from seg_perception.components import lookup
from seg_perception.lanes.extractor import LaneConfig, LaneExtractor
from seg_perception.structures import Frame, FrameResult, PanopticResult, Segment, TrackedObject
from seg_perception.tracking.association import crops_from_instance_map

#: Largest value of the ``mono16`` instances image; track ids wrap into 1..MAX_INSTANCE_VALUE.
MAX_INSTANCE_VALUE = 65535


class InstanceTracker(Protocol):
    """What the pipeline needs of a tracker (``seg_perception.tracking.Tracker`` is one).

    Attributes:
        last_reset_reason: why the last ``update`` reset the tracker (e.g. its stamp went
            backwards), or None when it did not; the pipeline turns it into a warning.
        uses_masks: True when ``update`` also takes each segment's mask, cropped to its box
            (``update(segments, stamp_ns, masks=...)``); others get segments only.

    """

    last_reset_reason: Optional[str]
    uses_masks: bool

    def update(self, segments: Sequence[Segment], stamp_ns: int) -> Tuple[int, ...]:
        """Return, per segment, the id of its confirmed track, or 0."""

    def reset(self) -> None:
        """Forget every track (ids are still never reused)."""


def instance_value(track_id: int) -> int:
    """Return the ``instances`` pixel value of a track id (ids past 65535 wrap, skipping 0)."""
    return (track_id - 1) % MAX_INSTANCE_VALUE + 1


class Pipeline:
    """Runs a segmenter and one tracker per camera, producing full-resolution results.

    Args:
        segmenter: the backend; shared by every camera.
        tracker_factory: makes a new tracker for each camera seen.
        lane_config: settings of the lane stage (one ``LaneExtractor`` per camera), which runs
            when the backend finds lane lines itself or outputs ``lane_marking``; None: no
            lane lines.
        allocate_labels: ``allocate_labels((H, W), dtype)`` returns an array, any contents,
            that a full-resolution output map is written into (the ROS node passes a
            ``MessageBufferPool``, whose memory becomes the published message's data without a
            copy); ``numpy.empty`` by default.

    """

    def __init__(self, segmenter: Segmenter, tracker_factory: Callable[[], InstanceTracker],
                 lane_config: LaneConfig = LaneConfig(),
                 allocate_labels: Callable[[Tuple[int, int], type], np.ndarray] = np.empty):
        self.segmenter = segmenter
        self._allocate_labels = allocate_labels
        self._tracker_factory = tracker_factory
        self._trackers: Dict[str, InstanceTracker] = {}
        self._lane_config = lane_config
        self._lane_extractors: Dict[str, LaneExtractor] = {}

    def tracker(self, camera: str) -> InstanceTracker:
        """Return the tracker of ``camera``, creating it on first use."""
        if camera not in self._trackers:
            self._trackers[camera] = self._tracker_factory()
        return self._trackers[camera]

    def reset(self, camera: str = None) -> None:
        """Reset one camera's tracker, or all of them when ``camera`` is None."""
        for name, tracker in self._trackers.items():
            if camera is None or name == camera:
                tracker.reset()
        for name, extractor in self._lane_extractors.items():
            if camera is None or name == camera:
                extractor.reset()

    def process(self, frame: Frame) -> FrameResult:
        """Segment and track one frame; see ``process_batch``."""
        return self.process_batch([frame])[0]

    def process_batch(self, frames: Sequence[Frame]) -> List[FrameResult]:
        """Segment a batch of frames in one forward pass, then track each on its camera.

        Args:
            frames: frames of any sizes and cameras; two frames of the same camera are tracked
                in the order given.

        Returns:
            one ``FrameResult`` per frame with ``semantic`` and ``instances`` at its input size.

        """
        return self.finish(frames, *self.segment(frames))

    def segment(self, frames: Sequence[Frame]) -> Tuple[Tuple[PanopticResult, ...], float]:
        """Run the segmenter on a batch (one forward pass): the first half of ``process_batch``.

        Returns:
            the backend's results, and the wall time per frame in milliseconds.

        """
        start = time.perf_counter()
        panoptics = self.segmenter.segment([frame.image for frame in frames])
        return panoptics, (time.perf_counter() - start) * 1000.0 / max(len(frames), 1)

    def finish(self, frames: Sequence[Frame], panoptics: Sequence[PanopticResult],
               segment_ms: float = 0.0) -> List[FrameResult]:
        """Track, resize and add lane lines: the second half of ``process_batch``.

        Frames of one camera must come in their order; a caller may run ``segment`` of the next
        batch while this one finishes (the node does), but not two ``finish`` at once.
        """
        results = []
        for frame, panoptic in zip(frames, panoptics):
            start = time.perf_counter()
            result = self._track_and_resize(frame, panoptic)
            result.timings_ms['segment'] = segment_ms
            result.timings_ms['track_and_resize'] = (time.perf_counter() - start) * 1000.0
            start = time.perf_counter()
            result = self._with_lanes(result, panoptic)
            result.timings_ms['lanes'] = (time.perf_counter() - start) * 1000.0
            results.append(result)
        return results

    def _with_lanes(self, result: FrameResult, panoptic: PanopticResult) -> FrameResult:
        """Add the frame's tracked lane lines (from the backend's lines or lane pixels)."""
        if self._lane_config is None:
            return result
        lane_class = taxonomy.class_id('lane_marking')
        if panoptic.lanes is None and lane_class not in self.segmenter.class_ids:
            return result
        camera = result.frame.camera
        if camera not in self._lane_extractors:
            self._lane_extractors[camera] = LaneExtractor(self._lane_config)
        lanes = self._lane_extractors[camera].update(
            result.frame.size, lane_mask=panoptic.semantic == lane_class,
            lines=panoptic.lanes)
        return dataclasses.replace(result, lanes=lanes)

    def _track_and_resize(self, frame: Frame, panoptic: PanopticResult) -> FrameResult:
        tracker = self.tracker(frame.camera)
        if tracker.uses_masks:
            masks = crops_from_instance_map(
                panoptic.instance_map, [segment.segment_id for segment in panoptic.segments])
            track_ids = tracker.update(panoptic.segments, frame.stamp_ns, masks=masks)
        else:
            track_ids = tracker.update(panoptic.segments, frame.stamp_ns)
        reset_reason = tracker.last_reset_reason
        warnings = (f'tracker of {frame.camera or "camera"} reset: {reset_reason}',) \
            if reset_reason else ()
        if reset_reason and frame.camera in self._lane_extractors:
            self._lane_extractors[frame.camera].reset()  # lane tracks go with the object tracks
        # Segment id -> instances pixel value, applied at the working resolution (cheaper).
        segment_to_value = np.zeros(len(panoptic.segments) + 1, dtype=np.uint16)
        objects = []
        for segment, track_id in zip(panoptic.segments, track_ids):
            if track_id <= 0:
                continue
            segment_to_value[segment.segment_id] = instance_value(track_id)
            objects.append(TrackedObject(
                track_id=int(track_id), class_id=segment.class_id, score=segment.score,
                bbox=segment.bbox))
        height, width = frame.size
        semantic = resize_labels(panoptic.semantic, height, width, self._allocate_labels)
        if objects:
            instances = resize_labels(lookup(segment_to_value, panoptic.instance_map),
                                      height, width, self._allocate_labels)
        else:  # nothing tracked: no lookup, no resize
            instances = self._allocate_labels((height, width), np.uint16)
            instances.fill(0)
        return FrameResult(
            frame=frame, semantic=semantic, instances=instances, objects=tuple(objects),
            warnings=warnings)


def resize_labels(labels: np.ndarray, height: int, width: int,
                  allocate: Callable[[Tuple[int, int], type], np.ndarray] = None) -> np.ndarray:
    """Nearest-neighbour resize of a (h, w) uint8 or uint16 label map to (height, width).

    Args:
        labels: the map; returned as is when it has the size already.
        height: rows of the result.
        width: columns of the result.
        allocate: ``allocate((height, width), dtype)`` returns the array written into; a new
            one from OpenCV when None.

    """
    if labels.shape == (height, width):
        return labels
    resized = None if allocate is None else allocate((height, width), labels.dtype)
    return cv2.resize(labels, (width, height), dst=resized,
                      interpolation=cv2.INTER_NEAREST_EXACT)
