"""LSTR (lane shape transformer, TuSimple) as a backend that finds lane lines directly.

Each of LSTR's 7 queries that it calls a lane becomes a ``LaneLine`` (``PanopticResult.lanes``):
its curve ``x(y) = k / (y - f)^2 + m / (y - f) + n + b y - b'`` (normalised coordinates) is
sampled between its lower and upper rows at the input resolution, the lane probability is the
confidence, and a cubic ``x = p(y)`` fitted to the samples is the line's curve (under 1 px off
on TuSimple frames). The lines are also painted 3 px wide (at 640x360) as ``lane_marking``;
every other pixel is unlabeled. Its main use is as the secondary of ``espnetv2+lstr``.

Checkpoint: the authors' ``cache/nnet/LSTR/LSTR_500000.pkl`` (liuruijin17/LSTR, BSD-3-Clause),
looked for as ``LSTR_500000.pkl`` in ``<dir>/lstr_tusimple/`` and ``<dir>/`` of each weights
folder, then in ``<cache>/lstr_tusimple/``, then downloaded there.
Recipe (the authors' ``test/tusimple.py``): BGR, resize to 640x360, /255, minus mean, over std
(``lstr_net.BGR_MEAN`` / ``BGR_STD``); a query is a lane when softmax class 1 wins.
Trained on TuSimple (US highways by day): expect little elsewhere.
"""

from typing import Sequence, Tuple

import cv2
import numpy as np
import torch

from seg_perception import taxonomy
from seg_perception.backends.base import BackendOptions, resized_batch, Segmenter
from seg_perception.backends.lstr_net import BGR_MEAN, BGR_STD, INPUT_SIZE, load_lstr
from seg_perception.backends.torch_device import select_device
from seg_perception.lanes.structures import LaneLine, polyline_from_curve
from seg_perception.structures import PanopticResult
from seg_perception.weights import (default_cache_dir, resolve_weights, WeightsError, WeightsSpec,
                                    with_subfolder)

_LSTR_COMMIT = '32cb9614c9e75404c4d0bbb5cb4c9191eebe1e3b'
CHECKPOINT = WeightsSpec(
    'LSTR_500000.pkl',
    '8167977ba4ad96151f25a519149b59dd58d70c3ae8df57869169f88c44a25a41',
    f'https://github.com/liuruijin17/LSTR/raw/{_LSTR_COMMIT}/cache/nnet/LSTR/LSTR_500000.pkl')
WEIGHTS_SUBDIR = 'lstr_tusimple'
#: Extra option: least lane probability of a query to become a lane line (default 0.5).
SCORE_KEY = 'lstr_min_score'
_PAINT_WIDTH_PX = 3
_SAMPLES = 64


def curve_x(params: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Return LSTR's normalised x at normalised rows ``ys`` for 6 curve values."""
    k, f, m, n, b, b2 = params
    return k / (ys - f) ** 2 + m / (ys - f) + n + b * ys - b2


def lines_from_output(probabilities: np.ndarray, curves: np.ndarray, image_size: Tuple[int, int],
                      min_score: float = 0.5) -> Tuple[LaneLine, ...]:
    """Turn one image's (7,) lane probabilities and (7, 8) curves into lane lines (pixels)."""
    height, width = image_size
    lines = []
    for score, curve in zip(probabilities, curves):
        lower, upper = float(curve[0]), float(curve[1])
        if score < min_score or not 0.0 <= lower < upper:
            continue
        upper = min(upper, 1.0)
        ys = np.linspace(lower, upper, _SAMPLES)
        xs = curve_x(curve[2:], ys)
        inside = np.isfinite(xs) & (xs >= -0.5) & (xs <= 1.5)
        if inside.sum() < 4:
            continue
        ys_px, xs_px = ys[inside] * height, xs[inside] * width
        coefficients = np.polyfit(ys_px, xs_px, 3)
        y_top, y_bottom = float(ys_px.min()), float(ys_px.max())
        if y_bottom - y_top < 2.0:
            continue
        lines.append(LaneLine(
            coefficients=tuple(float(c) for c in coefficients), y_top=y_top, y_bottom=y_bottom,
            image_points=polyline_from_curve(coefficients, y_top, y_bottom, 0.02 * height),
            confidence=float(score)))
    return tuple(sorted(lines, key=lambda line: -line.confidence))


class LSTRBackend(Segmenter):
    """TuSimple LSTR: lane lines as instances, painted as ``lane_marking``."""

    name = 'lstr'

    def __init__(self, options: BackendOptions = BackendOptions()):
        self.device = select_device(options.device)
        self.weights_path = resolve_weights(
            CHECKPOINT, options.weights_path, with_subfolder(options.weights_dirs, WEIGHTS_SUBDIR),
            cache_dir=default_cache_dir() / WEIGHTS_SUBDIR,
            allow_download=options.allow_download)
        try:
            network = load_lstr(self.weights_path)
        except Exception as error:  # torch raises several types for corrupt or foreign files
            raise WeightsError(f'checkpoint {self.weights_path} is not the TuSimple LSTR state '
                               f'dict (strict key match): {error}') from error
        self.network = network.to(self.device)
        self.min_score = float(options.extra.get(SCORE_KEY, '0.5'))
        self._lane = taxonomy.class_id('lane_marking')
        self._mean = torch.tensor(BGR_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(BGR_STD, device=self.device).view(1, 3, 1, 1)

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical id of ``lane_marking``."""
        return (self._lane,)

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Return (N, 3, 360, 640) float32 normalised BGR from (H, W, 3) uint8 RGB images."""
        batch = torch.from_numpy(resized_batch(images, INPUT_SIZE)).to(self.device)
        batch = batch.permute(0, 3, 1, 2).flip(1).float() / 255.0  # RGB -> BGR
        return ((batch - self._mean) / self._std).contiguous()

    @torch.inference_mode()
    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Find the lane lines of a batch of (H, W, 3) uint8 RGB images."""
        if not images:
            return ()
        logits, curves = self.network(self.preprocess(images))
        probabilities = torch.softmax(logits, dim=-1)[..., 1].cpu().numpy()
        curves = curves.cpu().numpy().astype(np.float64)
        results = []
        for index, image in enumerate(images):
            lines = lines_from_output(probabilities[index], curves[index], image.shape[:2],
                                      self.min_score)
            results.append(self._paint(lines, image.shape[:2]))
        return tuple(results)

    def _paint(self, lines, image_size) -> PanopticResult:
        width, height = INPUT_SIZE
        semantic = np.full((height, width), taxonomy.UNLABELED, dtype=np.uint8)
        scale = np.array([width / image_size[1], height / image_size[0]])
        for line in lines:
            points = np.round(line.image_points * scale).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(semantic, [points], False, int(self._lane), _PAINT_WIDTH_PX)
        return PanopticResult(semantic=semantic,
                              instance_map=np.zeros(semantic.shape, dtype=np.int32),
                              lanes=lines)

    def release(self) -> None:
        """Drop the network and free accelerator memory."""
        self.network = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
