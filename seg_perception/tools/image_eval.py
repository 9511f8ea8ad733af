"""Run a parameter file's segmenter on an image folder for the evaluations, without ROS.

The segmenter is built as the node builds it (``build.build_segmenter``). When it fuses a
detector (``DetectionFusionSegmenter``), each image also yields the wrapped backend's own
connected-component instances from the same forward pass, so ``evaluate`` prints both side by
side at the cost of one run.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from seg_perception.backends.base import Segmenter
from seg_perception.structures import PanopticResult, Segment
from seg_perception.tools.image_source import read_rgb

#: Image file suffixes read from a folder.
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
#: Name of the wrapped backend's own (connected-component) instances in the results.
COMPONENTS = 'components'
#: Name of the detection-guided instances in the results.
FUSION = 'fusion'


@dataclass(frozen=True)
class FramePrediction:
    """One variant's prediction for one image, at the image's resolution.

    Attributes:
        semantic: (H, W) uint8 canonical class ids.
        instances: (H, W) int32 segment ids (0 = none), ``segments[i].segment_id`` values.
        segments: the instances with boxes (input pixels) and scores.

    """

    semantic: np.ndarray
    instances: np.ndarray
    segments: Tuple[Segment, ...]


def image_paths(folder: Path) -> List[Path]:
    """Images directly in ``folder`` or below it, sorted by path.

    Raises:
        FileNotFoundError: no such folder, or no image in it.

    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'image folder {folder} does not exist')
    paths = sorted(p for p in folder.rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f'no {"/".join(IMAGE_SUFFIXES)} image in {folder}')
    return paths


def at_image_size(result: PanopticResult, size: Tuple[int, int]) -> FramePrediction:
    """Resize a backend result's maps to ``size`` = (H, W), nearest neighbour (as the node)."""
    height, width = size
    semantic, instances = result.semantic, result.instance_map
    if semantic.shape != (height, width):
        semantic = cv2.resize(semantic, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
        instances = cv2.resize(instances.astype(np.float32), (width, height),
                               interpolation=cv2.INTER_NEAREST_EXACT).astype(np.int32)
    return FramePrediction(semantic, instances, result.segments)


def add_pipeline_arguments(parser) -> None:
    """Add ``--params-file``, ``--weights-dir``, ``--no-tracker`` and ``--json``.

    The arguments of the evaluations that run a parameter file's pipeline on an image folder.
    """
    parser.add_argument('--params-file', type=Path, default=None,
                        help='node parameter file (default: the defaults)')
    parser.add_argument('--weights-dir', default='', help="weights directories, ':'-separated")
    parser.add_argument('--no-tracker', action='store_true',
                        help="score the segmenter's instances; by default each image passes the "
                             "parameter file's tracker as a camera's first frame, as the node "
                             'publishes it (unconfirmed instances get no id)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def build_segmenter(params_file: Optional[Path], weights_dir: str = '',
                    overrides: Optional[Dict] = None):
    """Return (segmenter, tracker config) a parameter file configures (``overrides``: values)."""
    from seg_perception import build
    from seg_perception.settings_file import read_file_settings
    values = dict(overrides or {})
    if weights_dir:
        values['weights_dir'] = weights_dir
    settings = read_file_settings(params_file, values)
    return build.build_segmenter(settings), settings.tracker


class _Precomputed(Segmenter):
    """Hands a result computed elsewhere to a ``Pipeline`` (one image per call)."""

    name = 'precomputed'

    def __init__(self, result: PanopticResult):
        self.result = result

    @property
    def class_ids(self) -> Tuple[int, ...]:
        return ()

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        return (self.result,)


def through_tracker(image: np.ndarray, result: PanopticResult, tracker_config) -> FramePrediction:
    """Return what the node publishes for ``image`` as the first frame of its camera.

    The result passes ``Pipeline`` with a new ``Tracker(tracker_config)``: only instances the
    tracker confirms in their first frame (score >= ``confirm_score``, or ``confirm_hits`` 1)
    keep an id, as in the node's ``instances`` and ``detections`` outputs.
    """
    from seg_perception.pipeline import Pipeline
    from seg_perception.structures import Frame
    from seg_perception.tracking import Tracker
    pipeline = Pipeline(_Precomputed(result), lambda: Tracker(tracker_config))
    out = pipeline.process(Frame(image))
    segments = tuple(Segment(o.track_id, o.class_id, o.score, o.bbox, 0.0) for o in out.objects)
    return FramePrediction(out.semantic, out.instances.astype(np.int32), segments)


def predict(segmenter, images: Sequence[np.ndarray],
            tracker_config=None) -> List[Dict[str, FramePrediction]]:
    """Segment images one by one; per image ``{variant: FramePrediction}``.

    Variants: ``fusion`` and ``components`` for a ``DetectionFusionSegmenter``, else only
    ``components`` (the backend's own instances). With ``tracker_config``, each variant goes
    through the tracker as the node's first frame (``through_tracker``).
    """
    from seg_perception.backends.detected_instances import DetectionFusionSegmenter
    out = []
    for image in images:
        if isinstance(segmenter, DetectionFusionSegmenter):
            fused, primary = segmenter.segment_with_primary([image])
            results = {COMPONENTS: primary[0], FUSION: fused[0]}
        else:
            results = {COMPONENTS: segmenter.segment([image])[0]}
        out.append({
            name: (through_tracker(image, result, tracker_config) if tracker_config is not None
                   else at_image_size(result, image.shape[:2]))
            for name, result in results.items()})
    return out


def iterate_predictions(segmenter, paths: Sequence[Path], tracker_config=None
                        ) -> Iterator[Tuple[Path, Dict[str, FramePrediction]]]:
    """Yield ``(path, {variant: prediction})`` for each image file, reading one at a time."""
    for path in paths:
        yield path, predict(segmenter, [read_rgb(path)], tracker_config)[0]
