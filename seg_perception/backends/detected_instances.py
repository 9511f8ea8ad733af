"""Any segmentation backend + an object detector: instances from detection-guided fusion.

``DetectionFusionSegmenter`` wraps a ``Segmenter`` (ESPNetv2, the espnetv2+twinlitenet
composite, ...): the wrapped backend gives the semantic map, the detector the objects, and
``detection_fusion.fuse_detections`` turns both into one instance per detected object. The node
selects it with the ``detector*`` parameters (``BackendOptions.detector``), so no backend name is
needed per combination.
"""

from pathlib import Path
import time
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from seg_perception.backends.base import (BackendError, BackendOptions, DetectorOptions,
                                          Segmenter)
from seg_perception.backends.detection_fusion import fuse_detections, FusionOptions
from seg_perception.structures import PanopticResult
from seg_perception.weights import resolve_weights, WeightsError, WeightsSpec, with_subfolder

#: Detector names accepted by the ``detector`` parameter.
DETECTORS = ('yolox',)
#: The YOLOX-Nano COCO detector (Megvii's YOLOX, Apache-2.0) as one published ONNX file: the
#: copy in hamacom2004jp/iinfer at a fixed commit, so that its checksum is known.
YOLOX_NANO = WeightsSpec(
    filename='yolox_nano.onnx',
    sha256='d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a',
    url=('https://github.com/hamacom2004jp/iinfer/raw/'
         'c7f9a3c5216c6f8b3e8b35886f863dffa2dc0bf9/models/yolox_nano.onnx'))
#: Sub-folder of weights folders and of the cache where the detector lives.
WEIGHTS_SUBDIR = 'yolox_nano'


def find_detector_weights(options: DetectorOptions, weights_dirs: Sequence[str] = (),
                          allow_download: bool = False) -> Path:
    """Return the detector's ONNX file.

    Looks at ``options.weights_path`` when set; else for ``yolox_nano.onnx`` in each weights
    directory's ``yolox_nano/`` subfolder and the directory itself, then the weights cache;
    with ``allow_download``, downloads it into the cache (checksum checked).

    Raises:
        BackendError: the file is nowhere; the message names the file and the places looked at.

    """
    if options.weights_path and not Path(options.weights_path).expanduser().is_file():
        raise BackendError(f'detector weights file {options.weights_path} does not exist '
                           '(parameter detector_weights)')
    try:
        return resolve_weights(YOLOX_NANO, options.weights_path,
                               with_subfolder(weights_dirs, WEIGHTS_SUBDIR),
                               allow_download=allow_download)
    except WeightsError as error:
        raise BackendError('detector ' + str(error).replace(
            'parameter weights_path', 'parameter detector_weights')) from None


class DetectionFusionSegmenter(Segmenter):
    """Runs ``semantic`` and ``detector`` on each image and fuses them.

    Args:
        semantic: any backend; its semantic map is kept, its instances are replaced.
        detector: has ``detect(image_rgb, tile_rows, tile_overlap) -> Detections``.
        detector_options: tiling settings.
        fusion: thresholds of the fusion rules.

    Attributes:
        last_timings_ms: wall-clock ms of the last ``segment`` call per stage (``semantic``,
            ``detect``, ``fuse``), summed over its images.

    """

    def __init__(self, semantic: Segmenter, detector, detector_options: DetectorOptions,
                 fusion: FusionOptions = FusionOptions()):
        self.semantic = semantic
        semantic.keep_maps_at_input_size()  # the fusion works at the working resolution
        self.detector = detector
        self.detector_options = detector_options
        self.fusion = fusion
        self.name = f'{semantic.name}+{detector_options.name or "detector"}'
        #: The wrapped backend's device (callers batch frames on accelerators).
        self.device = getattr(semantic, 'device', 'cpu')
        self.parallel_frames = getattr(semantic, 'parallel_frames', 1)
        providers = getattr(detector, 'providers', ())
        detector_engine = f'{detector_options.name} onnxruntime {providers[0]}' \
            if providers else ''
        self.engine_description = ' + '.join(
            d for d in (getattr(semantic, 'engine_description', ''), detector_engine) if d)
        self.last_timings_ms: Dict[str, float] = {}
        self._class_ids: Optional[Tuple[int, ...]] = None

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """The wrapped backend's classes and the detector's canonical classes."""
        if self._class_ids is None:  # the pipeline asks every frame; the COCO table took 0.6 ms
            from seg_perception.backends.yolox_onnx import coco_to_canonical
            detected = set(int(c) for c in coco_to_canonical()) - {255}
            self._class_ids = tuple(sorted(set(self.semantic.class_ids) | detected))
        return self._class_ids

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment, detect and fuse a batch; see ``Segmenter.segment``."""
        return self.segment_with_primary(images)[0]

    def segment_with_primary(self, images: Sequence[np.ndarray]
                             ) -> Tuple[Tuple[PanopticResult, ...], Tuple[PanopticResult, ...]]:
        """Return the fused results and the wrapped backend's own results of the same pass."""
        if not images:
            return (), ()
        start = time.perf_counter()
        primaries = self.semantic.segment(images)
        detected = time.perf_counter()
        detections = [self.detector.detect(image, self.detector_options.tile_rows,
                                           self.detector_options.tile_overlap)
                      for image in images]
        fused_start = time.perf_counter()
        results = tuple(
            fuse_detections(primary.semantic, found, image.shape[:2], self.fusion, primary)
            for image, primary, found in zip(images, primaries, detections))
        end = time.perf_counter()
        self.last_timings_ms = {'semantic': (detected - start) * 1e3,
                                'detect': (fused_start - detected) * 1e3,
                                'fuse': (end - fused_start) * 1e3}
        return results, tuple(primaries)

    def release(self) -> None:
        """Release the wrapped backend and drop the detector's session."""
        self.semantic.release()
        self.detector = None


def with_detector(segmenter: Segmenter, options: BackendOptions) -> Segmenter:
    """Wrap ``segmenter`` with the detector named in ``options.detector``; as is when none.

    Raises:
        BackendError: an unknown detector name, missing weights or onnxruntime.

    """
    detector_options = options.detector
    if not detector_options.name:
        return segmenter
    if detector_options.name not in DETECTORS:
        raise BackendError(f'unknown detector {detector_options.name!r}; available: '
                           f'{", ".join(DETECTORS)} (or empty for none)')
    from seg_perception.backends.yolox_onnx import YoloxOnnxDetector
    path = find_detector_weights(detector_options, options.weights_dirs, options.allow_download)
    detector = YoloxOnnxDetector(path, detector_options.score_threshold,
                                 detector_options.nms_iou, options.device)
    fusion = FusionOptions(min_area_px=options.min_instance_area_px)
    return DetectionFusionSegmenter(segmenter, detector, detector_options, fusion)
