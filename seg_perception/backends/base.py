"""The interface every segmentation backend implements."""

import abc
from dataclasses import dataclass, field
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from seg_perception.structures import PanopticResult


class BackendError(RuntimeError):
    """A backend could not be built or could not process a batch (message says why)."""


@dataclass(frozen=True)
class DetectorOptions:
    """An object detector whose boxes split the segmenter's things into instances.

    Attributes:
        name: detector name (``'yolox'``); empty = no detector, instances are the backend's.
        weights_path: ONNX file; empty = ``yolox_nano.onnx`` in the weights directories.
        score_threshold: detections scoring below this are ignored.
        nms_iou: class-aware NMS IoU threshold.
        tile_rows: rows of extra overlapping tiles for small objects (0 = one full-frame pass).
        tile_overlap: fraction of a tile's side shared with its neighbour.

    """

    name: str = ''
    weights_path: str = ''
    score_threshold: float = 0.3
    nms_iou: float = 0.45
    tile_rows: int = 0
    tile_overlap: float = 0.2


@dataclass(frozen=True)
class BackendOptions:
    """Settings common to all backends (each backend reads what applies to it).

    Attributes:
        weights_path: checkpoint file; empty = look in ``weights_dirs`` and the cache.
        weights_dirs: directories searched for the checkpoint before the cache.
        allow_download: download a missing checkpoint from its authors.
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        half: run in float16 on CUDA devices (ignored on the CPU).
        input_width: network input width in pixels (0 = the backend's default).
        input_height: network input height in pixels (0 = the backend's default).
        model_scale: width multiplier of scalable networks (ESPNetv2: 0.5..2.0).
        min_instance_area_px: instances smaller than this (input pixels) are dropped.
        extra: backend-specific settings.
        detector: optional object detector fused with the segmentation (see
            ``backends.detected_instances``).
        engine: inference engine of the backends that support several (ESPNetv2, TwinLiteNet):
            ``'auto'``, ``'torch'``, ``'onnxruntime'`` or ``'openvino'``
            (see ``seg_perception.backends.engines``); the others run torch.
        parallel_frames: frames of a batch an engine that can runs side by side on the CPU
            (OpenVINO, one stream each; capped at its threads); 1 = one frame at a time on
            every core, the lowest latency. The node sets it to its number of cameras.

    """

    weights_path: str = ''
    weights_dirs: Tuple[str, ...] = ()
    allow_download: bool = True
    device: str = 'auto'
    half: bool = False
    input_width: int = 0
    input_height: int = 0
    model_scale: float = 2.0
    min_instance_area_px: float = 64.0
    extra: Dict[str, str] = field(default_factory=dict)
    detector: DetectorOptions = DetectorOptions()
    engine: str = 'auto'
    parallel_frames: int = 1


def parse_extra(text: str) -> Dict[str, str]:
    """Parse backend-specific settings ``'key=value; key=value'`` into ``BackendOptions.extra``.

    Raises:
        BackendError: an entry without ``=`` or with an empty key.

    """
    extra = {}
    for entry in text.split(';'):
        if not entry.strip():
            continue
        key, sep, value = entry.partition('=')
        if not sep or not key.strip():
            raise BackendError(f'backend option {entry.strip()!r} is not key=value '
                               "(entries are separated by ';')")
        extra[key.strip()] = value.strip()
    return extra


def resize_rgb(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize (H, W, 3) uint8 RGB to ``size`` = (width, height), bilinear; as is when it fits.

    Bilinear rather than area averaging when shrinking: 3.4 ms instead of 31 ms from 1080p, and on
    the Cityscapes check frame (2048 -> 1024 wide) both give the same ESPNetv2 labels.
    """
    width, height = size
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def resized_batch(images: Sequence[np.ndarray], size: Tuple[int, int]) -> np.ndarray:
    """Return (N, height, width, 3) uint8: each (H_i, W_i, 3) RGB image resized to ``size``."""
    return np.stack([resize_rgb(image, size) for image in images])


class BatchResizer:
    """Resize batches of RGB images into one reused (N, height, width, 3) uint8 buffer.

    The buffer of a batch size is allocated once and overwritten by the next batch of that size,
    so the caller must be done with a returned batch before the next call (the backends use it
    under their lock, and every engine copies its outputs).

    Args:
        size: (width, height) of the network input.

    """

    def __init__(self, size: Tuple[int, int]):
        self.size = size
        self._buffers: Dict[int, np.ndarray] = {}

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Return (N, height, width, 3) uint8: the (H_i, W_i, 3) RGB images, bilinear."""
        width, height = self.size
        count = len(images)
        buffer = self._buffers.get(count)
        if buffer is None:
            buffer = self._buffers[count] = np.empty((count, height, width, 3), dtype=np.uint8)
        for image, slot in zip(images, buffer):
            if image.shape[:2] == (height, width):
                np.copyto(slot, image)
            else:
                cv2.resize(image, (width, height), dst=slot, interpolation=cv2.INTER_LINEAR)
        return buffer


def network_input_size(backend: str, options: BackendOptions, native: Tuple[int, int],
                       divisor: int) -> Tuple[int, int]:
    """Return the (width, height) a backend runs at: the options', else its ``native`` size.

    Raises:
        BackendError: a side that is not a positive multiple of ``divisor``.

    """
    width = options.input_width or native[0]
    height = options.input_height or native[1]
    if width <= 0 or height <= 0 or width % divisor or height % divisor:
        raise BackendError(
            f'{backend} input size {width}x{height} must be positive multiples of {divisor} '
            f'(the authors use {native[0]}x{native[1]})')
    return width, height


class Segmenter(abc.ABC):
    """Turns a batch of RGB images into panoptic results in the canonical taxonomy."""

    #: Registry name of the backend, e.g. ``'espnetv2'``.
    name: str = ''
    #: Where it runs (``'cpu'``, ``'cuda:0'``, or a torch.device); callers batch frames on
    #: accelerators and one at a time on the CPU. Backends that choose a device set it.
    device: object = 'cpu'
    #: Frames of a batch the backend runs side by side on the CPU (``BackendOptions
    #: .parallel_frames`` as its engine took it); the node batches up to this many there.
    parallel_frames: int = 1
    #: The inference engine(s) it runs, for logs (e.g. ``openvino CPU bf16, 2 streams``);
    #: empty where the backend has no choice of engine.
    engine_description: str = ''

    @property
    @abc.abstractmethod
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical class ids this backend can output, ascending."""

    @abc.abstractmethod
    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch of images.

        Args:
            images: each (H_i, W_i, 3) uint8 RGB; sizes may differ between images.

        Returns:
            one result per image, in order. Boxes in each result are in that image's pixels;
            the label maps may be at a working resolution (the pipeline resizes them).

        """

    def keep_maps_at_input_size(self) -> None:
        """Return label maps at the network's input size from now on.

        A backend whose labels come at a coarser stride (ESPNetv2: 2) returns its maps at that
        stride otherwise, and the pipeline resizes them to the image once. Wrappers that paint
        or fuse at the working resolution (composite lanes, detection fusion) call this. The
        default does nothing: the maps already are at the input size.
        """

    def release(self) -> None:
        """Free large buffers and accelerator memory; the default does nothing."""
