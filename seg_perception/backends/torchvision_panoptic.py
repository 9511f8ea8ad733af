"""torchvision Mask R-CNN (things) fused with a torchvision semantic model (stuff) as a backend.

Instance model: ``maskrcnn_resnet50_fpn`` (or ``_v2``), COCO's 91-index categories. Semantic
model: ``lraspp_mobilenet_v3_large`` (default), ``deeplabv3_mobilenet_v3_large`` or
``fcn_resnet50``. torchvision publishes the semantic models with the 21 Pascal VOC labels only
(``COCO_WITH_VOC_LABELS_V1``: background and a few things, no road); with
``semantic_labels=cityscapes`` the semantic head has the 19 Cityscapes train ids, for weights
trained on Cityscapes by the user. Fusion: the semantic map gives every pixel's class; instance
masks above ``score_threshold`` are painted over it (best score on top) as instances.

Options (``BackendOptions.extra``; all strings):
    instance_model: ``maskrcnn_resnet50_fpn`` (default) or ``maskrcnn_resnet50_fpn_v2``.
    semantic_model: one of ``SEMANTIC_MODELS`` (default ``lraspp_mobilenet_v3_large``).
    semantic_weights: state-dict file of the semantic model (default: torchvision's COCO/VOC
        weights, downloaded into torch's hub cache when ``allow_download``).
    semantic_labels: ``voc`` (default, 21 classes) or ``cityscapes`` (19 train ids).
    score_threshold: minimum instance score, default 0.5.
    max_detections: most instances per image, default 100.
    random_init: ``true`` builds both networks with random weights (tests, benchmarks).
``BackendOptions.weights_path`` is the Mask R-CNN state-dict file (default: torchvision's COCO
weights, downloaded like the semantic ones).
"""

import os
from typing import Sequence, Tuple

import numpy as np
import torch
from torchvision.models import detection, segmentation

from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import (BackendError, BackendOptions, network_input_size,
                                          resized_batch, Segmenter)
from seg_perception.backends.fusion import paint_masks, panoptic_from_segments
from seg_perception.backends.torch_device import select_device
from seg_perception.structures import PanopticResult
from seg_perception.weights import WeightsError

#: name -> (builder, torchvision weights enum) of the instance models.
INSTANCE_MODELS = {
    'maskrcnn_resnet50_fpn': (detection.maskrcnn_resnet50_fpn,
                              detection.MaskRCNN_ResNet50_FPN_Weights.COCO_V1),
    'maskrcnn_resnet50_fpn_v2': (detection.maskrcnn_resnet50_fpn_v2,
                                 detection.MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1),
}
#: name -> (builder, torchvision weights enum) of the semantic models.
SEMANTIC_MODELS = {
    'lraspp_mobilenet_v3_large': (
        segmentation.lraspp_mobilenet_v3_large,
        segmentation.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1),
    'deeplabv3_mobilenet_v3_large': (
        segmentation.deeplabv3_mobilenet_v3_large,
        segmentation.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1),
    'fcn_resnet50': (segmentation.fcn_resnet50,
                     segmentation.FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1),
}
DEFAULT_INPUT_SIZE = (1024, 512)
INPUT_DIVISOR = 32
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _flag(options: BackendOptions, key: str) -> bool:
    return options.extra.get(key, 'false').strip().lower() in ('1', 'true', 'yes')


def _choice(options: BackendOptions, key: str, choices, default: str) -> str:
    value = options.extra.get(key, default).strip() or default
    if value not in choices:
        raise BackendError(f'torchvision extra {key}={value!r}; choose one of '
                           f'{", ".join(sorted(choices))}')
    return value


class TorchvisionPanopticBackend(Segmenter):
    """Mask R-CNN instances painted over a semantic segmentation, in canonical classes."""

    name = 'torchvision'

    def __init__(self, options: BackendOptions = BackendOptions()):
        self._options = options
        self.input_size = network_input_size(self.name, options, DEFAULT_INPUT_SIZE,
                                             INPUT_DIVISOR)
        self.device = select_device(options.device)
        self._half = bool(options.half and self.device.type == 'cuda')
        try:
            self.score_threshold = float(options.extra.get('score_threshold', '0.5'))
            max_detections = int(options.extra.get('max_detections', '100'))
        except ValueError as error:
            raise BackendError(f'torchvision extra option: {error}') from None
        random_init = _flag(options, 'random_init')
        instance_name = _choice(options, 'instance_model', INSTANCE_MODELS,
                                'maskrcnn_resnet50_fpn')
        semantic_name = _choice(options, 'semantic_model', SEMANTIC_MODELS,
                                'lraspp_mobilenet_v3_large')
        labels = _choice(options, 'semantic_labels', ('voc', 'cityscapes'), 'voc')
        if labels == 'cityscapes' and not options.extra.get('semantic_weights') \
                and not random_init:
            raise BackendError('torchvision semantic_labels=cityscapes needs semantic_weights '
                               '(torchvision publishes VOC-label weights only)')
        width, height = self.input_size
        builder, weights = INSTANCE_MODELS[instance_name]
        # The detector keeps its own normalisation; min/max size = our input, so it does not
        # resize the (already resized) batch again.
        self.instance_net = builder(
            weights=None, weights_backbone=None, num_classes=len(weights.meta['categories']),
            min_size=height, max_size=max(width, height),
            box_score_thresh=min(self.score_threshold, 0.05),
            box_detections_per_img=max_detections)
        _load(self.instance_net, weights, options.weights_path, random_init,
              options.allow_download)
        builder, weights = SEMANTIC_MODELS[semantic_name]
        semantic_names = label_sets.VOC_NAMES if labels == 'voc' else tuple(
            name.replace('_', ' ') for name in label_sets.CITYSCAPES_TRAIN_ID_NAMES)
        self.semantic_net = builder(weights=None, weights_backbone=None,
                                    num_classes=len(semantic_names))
        _load(self.semantic_net, weights, options.extra.get('semantic_weights', ''),
              random_init, options.allow_download)
        self.instance_net.eval().to(self.device)
        self.semantic_net.eval().to(self.device)
        self._semantic_table = torch.from_numpy(label_sets.label_lookup(
            dict(enumerate(semantic_names)), 'voc' if labels == 'voc' else 'cityscapes'
        ).table).to(self.device)
        categories = INSTANCE_MODELS[instance_name][1].meta['categories']
        self._instance_table = label_sets.label_lookup(
            {i: name for i, name in enumerate(categories)
             if name not in ('N/A', '__background__')},
            'coco_panoptic').table
        self._mean = torch.tensor(_IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(_IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical ids of the semantic labels and the instance categories."""
        ids = set(self._semantic_table.cpu().tolist()) | set(self._instance_table.tolist())
        return tuple(sorted(ids - {taxonomy.UNLABELED}))

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Resize a batch of (H, W, 3) uint8 RGB to (N, 3, height, width) float in [0, 1]."""
        resized = resized_batch(images, self.input_size)
        return torch.from_numpy(resized).to(self.device).permute(0, 3, 1, 2).float() / 255.0

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor):
        """Run both networks once on a ``preprocess``ed batch.

        Returns:
            (semantic, detections): (N, h, w) uint8 canonical ids on the CPU, and the detector's
            per-image dicts (``boxes``, ``labels``, ``scores``, ``masks`` (K, 1, h, w) float).

        """
        with torch.autocast('cuda', dtype=torch.float16, enabled=self._half):
            logits = self.semantic_net((batch - self._mean) / self._std)['out']
            detections = self.instance_net(list(batch))
        semantic = self._semantic_table[logits.argmax(dim=1)].cpu().numpy()
        return semantic, detections

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch of (H, W, 3) uint8 RGB images; see ``Segmenter.segment``."""
        if not images:
            return ()
        semantic, detections = self.forward(self.preprocess(images))
        return tuple(self._fuse(semantic[i], detections[i], images[i].shape[:2])
                     for i in range(len(images)))

    def _fuse(self, semantic: np.ndarray, detections, image_size) -> PanopticResult:
        scores = detections['scores'].float().cpu().numpy()
        classes = self._instance_table[detections['labels'].cpu().numpy()]
        keep = (scores >= self.score_threshold) & taxonomy.thing_mask_table()[classes]
        masks = (detections['masks'][torch.from_numpy(keep).to(self.device), 0] >= 0.5)
        masks = masks.cpu().numpy()
        segment_map = paint_masks(masks, scores[keep])
        return panoptic_from_segments(segment_map, classes[keep], scores[keep], image_size,
                                      self._options.min_instance_area_px, background=semantic)

    def release(self) -> None:
        """Drop the networks and free accelerator memory."""
        self.instance_net = self.semantic_net = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()


def _load(network: torch.nn.Module, weights, path: str, random_init: bool,
          allow_download: bool) -> None:
    """Load a state dict from ``path``, else torchvision's published ``weights``."""
    if random_init:
        return
    if path:
        try:
            state = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as error:  # torch raises several types for corrupt or foreign files
            raise WeightsError(f'cannot read checkpoint {path}: {error}') from error
        source = path
    else:
        if not allow_download:
            cached = torch.hub.get_dir() + '/checkpoints/' + weights.url.rsplit('/', 1)[-1]
            if not os.path.exists(cached):
                raise WeightsError(
                    f'{weights} is not in the torch hub cache ({cached}) and allow_download is '
                    'false: set weights_path / semantic_weights or allow downloads')
        try:
            state = weights.get_state_dict(progress=False, check_hash=True)
        except Exception as error:  # urllib / hash errors
            raise WeightsError(
                f'cannot get torchvision weights {weights} from {weights.url}: {error}; put the '
                f'file into {torch.hub.get_dir()}/checkpoints or set its path') from error
        source = weights.url
    try:
        network.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise WeightsError(f'checkpoint {source} does not fit {type(network).__name__}: '
                           f'{error}') from error
