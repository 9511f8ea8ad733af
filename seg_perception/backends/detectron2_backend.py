"""detectron2 models (Panoptic FPN, Panoptic-DeepLab, Mask R-CNN + semantic heads) as a backend.

Any detectron2 config works: a model-zoo name such as
``COCO-PanopticSegmentation/panoptic_fpn_R_50_1x.yaml`` or a yaml file path. The model's
``panoptic_seg`` output is used when it has one; otherwise its ``sem_seg`` (every pixel's class)
and ``instances`` (masks above the score threshold painted on top) are fused. Class names come from
the dataset metadata of the config's first test set (``MetadataCatalog``; the builtin COCO,
Cityscapes and LVIS sets are registered by detectron2) and are mapped to canonical ids.

Options (``BackendOptions.extra``; all strings):
    config_file: model-zoo config name or yaml path (required).
    metadata: dataset name whose ``thing_classes`` / ``stuff_classes`` name the outputs
        (default: the config's ``DATASETS.TEST[0]``).
    label_set: ``auto`` (default) or a key of ``label_sets.LABEL_SETS``.
    score_threshold: minimum instance score for the fused route, default 0.5.
    random_init: ``true`` keeps the random initial weights (tests, benchmarks).
    opts: extra config overrides, ``KEY=VALUE`` separated by spaces (``MODEL.X=1 ...``).
``BackendOptions.weights_path``: the checkpoint (``.pkl`` or ``.pth``); empty = the model zoo's
checkpoint of a model-zoo config, downloaded and cached by detectron2 when ``allow_download``.
"""

import logging
from types import SimpleNamespace
from typing import Sequence, Tuple

import numpy as np
import PIL.Image
import torch


from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import (BackendError, BackendOptions, network_input_size,
                                          resize_rgb, Segmenter)
from seg_perception.backends.fusion import paint_masks, panoptic_from_segments
from seg_perception.backends.torch_device import select_device
from seg_perception.structures import PanopticResult
from seg_perception.weights import WeightsError


def _import_detectron2() -> SimpleNamespace:
    """Import the parts of detectron2 used here, after the Pillow alias it needs."""
    if not hasattr(PIL.Image, 'LINEAR'):  # removed in Pillow 10; detectron2 0.6 still names it
        PIL.Image.LINEAR = PIL.Image.BILINEAR
    from detectron2 import model_zoo
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.data import MetadataCatalog
    import detectron2.data.datasets  # noqa: F401 (registers the builtin datasets' metadata)
    from detectron2.modeling import build_model
    return SimpleNamespace(model_zoo=model_zoo, DetectionCheckpointer=DetectionCheckpointer,
                           get_cfg=get_cfg, MetadataCatalog=MetadataCatalog,
                           build_model=build_model)


d2 = _import_detectron2()
_LOG = logging.getLogger(__name__)
DEFAULT_INPUT_SIZE = (1024, 512)
INPUT_DIVISOR = 32


def build_config(options: BackendOptions):
    """Return the detectron2 ``CfgNode`` of ``options.extra['config_file']`` (and ``opts``)."""
    name = options.extra.get('config_file', '').strip()
    if not name:
        raise BackendError('detectron2 backend needs extra option config_file (a model-zoo '
                           'name such as COCO-PanopticSegmentation/panoptic_fpn_R_50_1x.yaml '
                           'or a yaml path)')
    cfg = d2.get_cfg()
    try:
        path = name if name.endswith('.yaml') and _exists(name) \
            else d2.model_zoo.get_config_file(name)
        cfg.merge_from_file(path)
        opts = options.extra.get('opts', '').split()
        cfg.merge_from_list([part for opt in opts for part in opt.split('=', 1)])
    except (RuntimeError, OSError, KeyError, ValueError, AssertionError) as error:
        raise BackendError(f'detectron2 config {name!r}: {error}') from error
    return cfg


def _exists(path: str) -> bool:
    try:
        with open(path):
            return True
    except OSError:
        return False


class Detectron2Backend(Segmenter):
    """A detectron2 panoptic (or instance + semantic) model in canonical classes."""

    name = 'detectron2'

    def __init__(self, options: BackendOptions = BackendOptions()):
        self._options = options
        self.input_size = network_input_size(self.name, options, DEFAULT_INPUT_SIZE,
                                             INPUT_DIVISOR)
        self.device = select_device(options.device)
        self._half = bool(options.half and self.device.type == 'cuda')
        try:
            self.score_threshold = float(options.extra.get('score_threshold', '0.5'))
        except ValueError as error:
            raise BackendError(f'detectron2 extra option score_threshold: {error}') from None
        self.cfg = cfg = build_config(options)
        cfg.MODEL.DEVICE = str(self.device)
        cfg.MODEL.WEIGHTS = ''
        self.model = d2.build_model(cfg).eval()
        self.weights = self._load_weights(options)
        datasets = tuple(cfg.DATASETS.TEST)
        metadata_name = options.extra.get('metadata', '') or (datasets[0] if datasets else '')
        metadata = d2.MetadataCatalog.get(metadata_name) if metadata_name else None
        things = list(getattr(metadata, 'thing_classes', None) or [])
        stuff = list(getattr(metadata, 'stuff_classes', None) or [])
        if not things and not stuff:
            raise BackendError(f'detectron2 metadata {metadata_name!r} has no class names; '
                               'set extra option metadata to a registered dataset')
        label_set = options.extra.get('label_set', 'auto')
        thing_lookup = label_sets.label_lookup(dict(enumerate(things)), label_set)
        stuff_lookup = label_sets.label_lookup(
            {i: n for i, n in enumerate(stuff) if n != 'things'}, label_set)
        unknown = sorted(set(thing_lookup.unknown + stuff_lookup.unknown))
        if unknown:
            _LOG.warning('detectron2 classes without a canonical class (unlabeled): %s',
                         ', '.join(unknown))
        self._thing_table = thing_lookup.table
        self._stuff_table = stuff_lookup.table
        self._bgr = cfg.INPUT.FORMAT == 'BGR'

    def _load_weights(self, options: BackendOptions) -> str:
        if options.extra.get('random_init', '').strip().lower() in ('1', 'true', 'yes'):
            return ''
        path = options.weights_path
        if not path:
            if not options.allow_download:
                raise WeightsError(
                    'detectron2 backend: set weights_path (allow_download is false)')
            try:
                path = d2.model_zoo.get_checkpoint_url(options.extra['config_file'].strip())
            except RuntimeError as error:
                raise WeightsError(f'detectron2: no weights_path and {error}') from error
        try:
            d2.DetectionCheckpointer(self.model).load(path)
        except Exception as error:  # pickle, torch, iopath and network errors
            raise WeightsError(f'cannot read detectron2 checkpoint {path}: {error}') from error
        return path

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical ids of the model's thing and stuff classes."""
        ids = set(self._thing_table.tolist()) | set(self._stuff_table.tolist())
        return tuple(sorted(ids - {taxonomy.UNLABELED}))

    def preprocess(self, images: Sequence[np.ndarray]):
        """Resize a batch of (H, W, 3) uint8 RGB to detectron2 inputs at the input size.

        Returns:
            list of dicts with ``image`` (3, h, w) float 0..255 in the config's channel order
            and ``height`` / ``width`` (outputs come at that size).

        """
        width, height = self.input_size
        inputs = []
        for image in images:
            image = resize_rgb(image, self.input_size)
            if self._bgr:
                image = image[:, :, ::-1]
            tensor = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)
            inputs.append({'image': tensor.permute(2, 0, 1).float(), 'height': height,
                           'width': width})
        return inputs

    @torch.inference_mode()
    def forward(self, inputs):
        """Run the model once on a ``preprocess``ed batch; return its per-image outputs."""
        with torch.autocast('cuda', dtype=torch.float16, enabled=self._half):
            return self.model(inputs)

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch of (H, W, 3) uint8 RGB images; see ``Segmenter.segment``."""
        if not images:
            return ()
        outputs = self.forward(self.preprocess(images))
        return tuple(self._convert(output, image.shape[:2])
                     for output, image in zip(outputs, images))

    def _convert(self, output, image_size) -> PanopticResult:
        min_area = self._options.min_instance_area_px
        if 'panoptic_seg' in output:
            segment_map, info = output['panoptic_seg']
            segment_map = segment_map.cpu().numpy().astype(np.int32)
            segment_map[segment_map < 0] = 0
            count = int(segment_map.max(initial=0))
            classes = np.full(count, taxonomy.UNLABELED, dtype=np.uint8)
            scores = np.ones(count, dtype=np.float32)
            for segment in info:
                table = self._thing_table if segment['isthing'] else self._stuff_table
                classes[segment['id'] - 1] = table[int(segment['category_id'])]
                scores[segment['id'] - 1] = float(segment.get('score', 1.0))
            return panoptic_from_segments(segment_map, classes, scores, image_size, min_area)
        background = None
        if 'sem_seg' in output:
            background = self._stuff_table[output['sem_seg'].argmax(dim=0).cpu().numpy()]
        instances = output.get('instances')
        if instances is None or not instances.has('pred_masks'):
            if background is None:
                raise BackendError('detectron2 model gives neither panoptic_seg, sem_seg nor '
                                   'instance masks')
            masks = np.zeros((0,) + background.shape, dtype=bool)
            classes = scores = np.zeros(0)
        else:
            scores = instances.scores.float().cpu().numpy()
            classes = self._thing_table[instances.pred_classes.cpu().numpy()]
            keep = scores >= self.score_threshold
            masks = instances.pred_masks[torch.from_numpy(keep).to(self.device)].cpu().numpy()
            classes, scores = classes[keep], scores[keep]
        return panoptic_from_segments(paint_masks(masks, scores), classes, scores, image_size,
                                      min_area, background=background)

    def release(self) -> None:
        """Drop the model and free accelerator memory."""
        self.model = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
