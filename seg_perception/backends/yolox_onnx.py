"""YOLOX-style object detectors exported to ONNX, run with ONNX Runtime.

A YOLOX ONNX graph (Ge et al., 2021, Megvii-BaseDetection/YOLOX) takes one ``[1, 3, H, W]``
float32 BGR image, letterboxed (aspect kept, padded with 114 at the bottom and right, not
normalised), and returns the raw head output ``[1, A, 5 + C]``: per anchor point of the stride-8,
16 and 32 grids over the input (``A = sum (H / s) * (W / s)``), ``cx, cy, log w, log h``
relative to its grid cell, an objectness and ``C`` class scores, both already sigmoid-activated.
Decoding: ``xy = (xy + cell) * stride``, ``wh = exp(wh) * stride``, score = objectness * best
class score. The input size is read from the graph, so any YOLOX export (nano 416, s/m/l 640)
works; ``C`` = 80 COCO classes, of which those with a canonical class are kept
(person, bicycle, car, motorcycle, bus, train, truck, traffic light, stop sign). The session
runs the graph extended by ``yolox_graph``: the uint8 RGB canvas in, each row's box, best class
and score out, so the conversion to float BGR and the class argmax run inside ONNX Runtime.

Wide, high-resolution frames shrink small objects below what a 416x416 input resolves, so
``detect`` can add tiles: a grid of overlapping crops, each run at the network's size, merged with
the full-frame pass by class-aware NMS (see ``tile_windows``).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import BackendError
from seg_perception.backends.yolox_graph import IMAGE_INPUT, with_host_work_inside

#: File looked for in the weights directories when no detector weights file is named.
DEFAULT_WEIGHTS_FILE = 'yolox_nano.onnx'
#: Strides of YOLOX's three output grids.
STRIDES = (8, 16, 32)
#: Letterbox padding value YOLOX was trained with.
PAD_VALUE = 114
#: The 80 COCO detection classes in the contiguous order of YOLOX's class scores.
COCO_NAMES: Tuple[str, ...] = label_sets.COCO_PANOPTIC_NAMES[:80]


@dataclass(frozen=True)
class Detections:
    """Boxes found in one image, in canonical classes.

    Attributes:
        boxes: (N, 4) float32 ``x_min, y_min, x_max, y_max`` in input-image pixels.
        scores: (N,) float32 objectness * class score, in [0, 1].
        class_ids: (N,) uint8 canonical class ids.

    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    def __len__(self) -> int:
        """Return the number of detections."""
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls) -> 'Detections':
        """Return no detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.uint8))

    @classmethod
    def concatenate(cls, parts: Sequence['Detections']) -> 'Detections':
        """Join several sets of detections (no suppression)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.boxes for p in parts]),
                   np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.class_ids for p in parts]))

    def select(self, keep: np.ndarray) -> 'Detections':
        """Return the detections at ``keep`` (indices or a boolean mask)."""
        return Detections(self.boxes[keep], self.scores[keep], self.class_ids[keep])


def coco_to_canonical() -> np.ndarray:
    """Return (80,) uint8: COCO detection class index -> canonical id, ``UNLABELED`` if none."""
    return label_sets.label_lookup(dict(enumerate(COCO_NAMES)), 'coco_panoptic').table[:80].copy()


def letterbox(image: np.ndarray, size: Tuple[int, int]) -> Tuple[np.ndarray, float]:
    """Fit an (H, W, 3) uint8 image into ``size`` = (height, width), keeping its aspect ratio.

    Any channel order: the resize treats each channel alone.

    Returns:
        the (height, width, 3) uint8 canvas (image at the top-left, ``PAD_VALUE`` elsewhere) and
        the scale from image pixels to canvas pixels.

    """
    height, width = size
    scale = min(height / image.shape[0], width / image.shape[1])
    new_w = max(1, int(round(image.shape[1] * scale)))
    new_h = max(1, int(round(image.shape[0] * scale)))
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[new_h:] = PAD_VALUE
    canvas[:new_h, new_w:] = PAD_VALUE
    target = canvas[:new_h, :new_w]  # resized in place: no temporary image and copy
    resized = cv2.resize(image, (new_w, new_h), dst=target, interpolation=cv2.INTER_LINEAR)
    if resized is not target:  # OpenCV allocated its own output after all
        target[...] = resized
    return canvas, scale


def anchor_grid(input_size: Tuple[int, int],
                strides: Sequence[int] = STRIDES) -> Tuple[np.ndarray, np.ndarray]:
    """Return the anchor cells and strides of YOLOX's output rows.

    Args:
        input_size: network input (height, width) in pixels.

    Returns:
        (A, 2) float32 cell (column, row) per anchor and (A, 1) float32 stride per anchor, in
        the order of the head output (stride 8 first, row-major within a grid).

    """
    cells, anchor_strides = [], []
    for stride in strides:
        rows, cols = input_size[0] // stride, input_size[1] // stride
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing='ij')
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        anchor_strides.append(np.full((rows * cols, 1), stride))
    return (np.concatenate(cells).astype(np.float32),
            np.concatenate(anchor_strides).astype(np.float32))


def decode_outputs(box_raw: np.ndarray, best_score: np.ndarray, best_class: np.ndarray,
                   cells: np.ndarray, strides: np.ndarray, class_table: np.ndarray,
                   score_threshold: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode YOLOX head rows into boxes of the kept classes.

    Args:
        box_raw: (A, 4) float32 (or float16) ``cx, cy, log w, log h`` of each row, relative
            to its cell.
        best_score: (A,) float objectness x the row's best class score.
        best_class: (A,) integer model class of that score.
        cells, strides: from ``anchor_grid`` for the same input size.
        class_table: (K,) uint8 model class -> canonical id; ``UNLABELED`` classes, and
            classes >= K, are dropped.
        score_threshold: rows scoring below this are dropped.

    Returns:
        (N, 4) float32 boxes ``x_min, y_min, x_max, y_max`` in network-input pixels, (N,) scores
        and (N,) canonical class ids.

    """
    rows = np.flatnonzero(best_score >= score_threshold)
    classes = best_class[rows]
    known = classes < class_table.shape[0]
    rows, classes = rows[known], class_table[classes[known]]
    kept = classes != taxonomy.UNLABELED
    rows, classes = rows[kept], classes[kept]
    picked = box_raw[rows].astype(np.float32, copy=False)  # a half export's rows too
    centre = (picked[:, :2] + cells[rows]) * strides[rows]
    size = np.exp(np.minimum(picked[:, 2:4], 20.0)) * strides[rows]  # clamp: no overflow
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)
    return boxes, best_score[rows].astype(np.float32), classes


def batched_nms(detections: Detections, iou_threshold: float) -> Detections:
    """Class-aware non-maximum suppression (OpenCV's ``NMSBoxesBatched``), best score first."""
    if len(detections) == 0:
        return detections
    boxes = detections.boxes.astype(np.float64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), detections.scores.tolist(),
                                   detections.class_ids.astype(np.int32).tolist(), 0.0,
                                   float(iou_threshold))
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-detections.scores[keep], kind='stable')]
    return detections.select(keep)


def tile_windows(image_size: Tuple[int, int], rows: int, overlap: float,
                 network_aspect: float = 1.0) -> List[Tuple[int, int, int, int]]:
    """Split an image into a grid of overlapping crops shaped like the network input.

    Args:
        image_size: (height, width) of the image.
        rows: tile rows; 0 = no tiles. Columns follow from the image's aspect ratio so that each
            tile is about as wide as ``network_aspect`` times its height (2048x1024 with one row:
            2 columns; KITTI's 1242x375: 3; 1920x1080: 2).
        overlap: fraction of a tile's side shared with its neighbour, in [0, 0.9].

    Returns:
        (x0, y0, x1, y1) integer pixel windows, row-major.

    """
    if rows <= 0:
        return []
    height, width = image_size
    tile_h = height / (rows - (rows - 1) * overlap)
    columns = max(1, int(round(width / (tile_h * network_aspect))))
    if columns == 1 and rows == 1:
        return []  # the full-frame pass already sees this
    tile_w = width / (columns - (columns - 1) * overlap)
    windows = []
    for r in range(rows):
        y0 = r * tile_h * (1 - overlap)
        for c in range(columns):
            x0 = c * tile_w * (1 - overlap)
            windows.append((int(round(x0)), int(round(y0)),
                            min(width, int(round(x0 + tile_w))),
                            min(height, int(round(y0 + tile_h)))))
    return windows


def drop_cut_boxes(detections: Detections, window: Tuple[int, int, int, int],
                   image_size: Tuple[int, int], margin: float = 2.0) -> Detections:
    """Drop tile detections touching a tile edge that is inside the image (a cut object).

    Such an object is whole in a neighbouring tile (tiles overlap) or in the full-frame pass.
    """
    if len(detections) == 0:
        return detections
    x0, y0, x1, y1 = window
    height, width = image_size
    b = detections.boxes
    cut = np.zeros(len(detections), dtype=bool)
    if x0 > 0:
        cut |= b[:, 0] <= x0 + margin
    if y0 > 0:
        cut |= b[:, 1] <= y0 + margin
    if x1 < width:
        cut |= b[:, 2] >= x1 - margin
    if y1 < height:
        cut |= b[:, 3] >= y1 - margin
    return detections.select(~cut)


def select_providers(device: str, available: Sequence[str]) -> List[str]:
    """Return ONNX Runtime execution providers for ``device``, fastest first.

    ``'cpu'``: the CPU only. ``'auto'``, ``'cuda'`` or ``'cuda:N'``: TensorRT, then CUDA, when
    the installed ONNX Runtime has them (``onnxruntime-gpu``), then the CPU.
    """
    if device == 'cpu':
        return ['CPUExecutionProvider']
    wanted = ['TensorrtExecutionProvider', 'CUDAExecutionProvider']
    return [p for p in wanted if p in available] + ['CPUExecutionProvider']


class YoloxOnnxDetector:
    """A YOLOX ONNX file in an ONNX Runtime session; ``detect`` returns canonical detections.

    Args:
        path: the ``.onnx`` file.
        score_threshold: detections scoring below this are dropped.
        nms_iou: class-aware NMS threshold.
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'`` (see ``select_providers``).
        threads: ONNX Runtime intra-op threads; 0 = its default (all cores).

    Raises:
        BackendError: missing file, onnxruntime not installed, or a graph that is not YOLOX-style.

    """

    def __init__(self, path: Path, score_threshold: float = 0.3, nms_iou: float = 0.45,
                 device: str = 'auto', threads: int = 0):
        path = Path(path)
        if not path.is_file():
            raise BackendError(f'detector weights {path} do not exist')
        try:
            import onnxruntime
        except ImportError as error:
            raise BackendError(
                'the yolox detector needs onnxruntime (pip install onnxruntime, or '
                f'onnxruntime-gpu on CUDA machines): {error}') from error
        try:
            import onnx
        except ImportError as error:
            raise BackendError(f'the yolox detector needs onnx (pip install onnx): {error}'
                               ) from error
        self.path = path
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        try:
            model = onnx.load(str(path))
        except Exception as error:  # protobuf's DecodeError, OSError
            raise BackendError(f'cannot read {path} as an ONNX graph: {error}') from error
        try:
            model, self.input_size, classes = with_host_work_inside(model)
        except BackendError as error:
            raise BackendError(f'{path.name}: {error}') from error
        session_options = onnxruntime.SessionOptions()
        if threads > 0:
            session_options.intra_op_num_threads = int(threads)
        providers = select_providers(device, onnxruntime.get_available_providers())
        if device.startswith('cuda:') and 'CUDAExecutionProvider' in providers:
            index = device.split(':', 1)[1]
            providers = [(p, {'device_id': index}) if p != 'CPUExecutionProvider' else p
                         for p in providers]
        # A GPU provider listed by onnxruntime-gpu may still fail to start (no TensorRT
        # libraries, no driver): fall back one provider at a time, down to the CPU.
        self.session, errors = None, []
        graph_bytes = model.SerializeToString()
        for first in range(len(providers)):
            try:
                self.session = onnxruntime.InferenceSession(
                    graph_bytes, session_options, providers=providers[first:])
                break
            except Exception as error:  # onnxruntime raises its own exception types
                errors.append(f'{providers[first]}: {error}')
        if self.session is None:
            raise BackendError(f'ONNX Runtime cannot load {path}: {"; ".join(errors)}')
        self.providers = tuple(self.session.get_providers())
        self._cells, self._strides = anchor_grid(self.input_size)
        anchors = self.session.get_outputs()[0].shape[1]
        if isinstance(anchors, int) and anchors != self._cells.shape[0]:
            raise BackendError(
                f'{path.name}: output of {anchors} rows, not the {self._cells.shape[0]} anchor '
                f'rows of strides {STRIDES} over {self.input_size[1]}x{self.input_size[0]}; '
                'not a raw YOLOX head output')
        # Model class -> canonical id; classes past COCO's 80 (another training set) map to none.
        self._class_table = np.full(max(classes, 80), taxonomy.UNLABELED, np.uint8)
        self._class_table[:80] = coco_to_canonical()

    def forward(self, image_rgb: np.ndarray) -> Detections:
        """Detect in one image (or crop) with one network pass; boxes in its pixels, after NMS."""
        return self._passes([image_rgb])[0]

    def _passes(self, images: Sequence[np.ndarray]) -> List[Detections]:
        """Run one network pass per image (or crop); each one's boxes in its pixels, after NMS.

        Every image is letterboxed before the first pass: a letterbox between two passes took
        0.84 ms here against 0.3 ms alone (ONNX Runtime's threads spin for a while after a
        pass), and 7 of them 5.9 ms against 3.4 ms this way.
        The session takes the uint8 RGB canvas and returns each row's best class and score
        (``yolox_graph``), so the letterbox is the host's only work before decoding.
        """
        canvases = [letterbox(image, self.input_size) for image in images]
        outputs = [self.session.run(None, {IMAGE_INPUT: canvas[np.newaxis]})
                   for canvas, _ in canvases]
        anchors = self._cells.shape[0]
        found = []
        for image, (_, scale), (box_raw, best_score, best_class) in zip(images, canvases,
                                                                        outputs):
            if box_raw.shape != (1, anchors, 4) or best_score.size != anchors \
                    or best_class.size != anchors:
                raise BackendError(f'{self.path.name}: unexpected output shapes '
                                   f'{box_raw.shape}, {best_score.shape}, {best_class.shape}')
            boxes, scores, classes = decode_outputs(
                box_raw[0], best_score.reshape(-1), best_class.reshape(-1), self._cells,
                self._strides, self._class_table, self.score_threshold)
            boxes /= scale
            height, width = image.shape[:2]
            np.clip(boxes, 0, [width, height, width, height], out=boxes)
            found.append(batched_nms(Detections(boxes, scores, classes), self.nms_iou))
        return found

    def detect(self, image_rgb: np.ndarray, tile_rows: int = 0,
               tile_overlap: float = 0.2) -> Detections:
        """Detect in a full image: one full-frame pass plus optional tiles.

        Args:
            image_rgb: (H, W, 3) uint8 RGB.
            tile_rows: rows of the tile grid (``tile_windows``); 0 = full frame only.
            tile_overlap: fraction of a tile's side shared with its neighbour.

        Returns:
            detections in input pixels, best score first, after class-aware NMS over all passes.

        """
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise BackendError(f'detector input must be (H, W, 3) uint8 RGB, got '
                               f'{image_rgb.shape} {image_rgb.dtype}')
        size = image_rgb.shape[:2]
        aspect = self.input_size[1] / self.input_size[0]
        windows = tile_windows(size, tile_rows, tile_overlap, aspect)
        whole, *tiles = self._passes(
            [image_rgb] + [image_rgb[y0:y1, x0:x1] for x0, y0, x1, y1 in windows])
        if not tiles:
            return whole
        parts = [whole]
        for window, found in zip(windows, tiles):
            x0, y0 = window[:2]
            found = Detections(found.boxes + np.array([x0, y0, x0, y0], np.float32),
                               found.scores, found.class_ids)
            parts.append(drop_cut_boxes(found, window, size))
        return batched_nms(Detections.concatenate(parts), self.nms_iou)
