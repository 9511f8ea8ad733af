"""HuggingFace transformers universal segmentation (Mask2Former, OneFormer) as a backend.

Any ``*ForUniversalSegmentation`` checkpoint works, by hub id or local directory: its
``id2label`` names (Cityscapes, Mapillary Vistas, COCO-panoptic, ...) are mapped to canonical
classes with ``label_sets.label_lookup``. Panoptic segments come from the image processor's
``post_process_panoptic_segmentation``; stuff labels are fused into one segment per class.

Options (``BackendOptions.extra``; all strings):
    model: hub id (e.g. ``facebook/mask2former-swin-large-cityscapes-panoptic``) or local
        directory holding ``config.json``, the weights and ``preprocessor_config.json``.
    config_json: instead of ``model``: a ``config.json`` file; the network is built from it
        with random weights and a default image processor of its type (tests, benchmarks).
    label_set: ``auto`` (default), ``cityscapes``, ``vistas``, ``coco_panoptic`` (see
        ``label_sets.LABEL_SETS``).
    threshold: minimum segment score, default 0.5.
    revision: hub revision (branch, tag or commit) to load.
A built model and image processor can also be passed to the constructor directly.
``allow_download=false`` loads from the HuggingFace cache only.
"""

import json
import logging
from typing import Sequence, Tuple

import numpy as np
import torch
import transformers

from seg_perception import label_sets, taxonomy
from seg_perception.backends.base import (BackendError, BackendOptions, network_input_size,
                                          resized_batch, Segmenter)
from seg_perception.backends.fusion import panoptic_from_segments
from seg_perception.backends.torch_device import select_device
from seg_perception.structures import PanopticResult

_LOG = logging.getLogger(__name__)
DEFAULT_INPUT_SIZE = (1024, 512)
INPUT_DIVISOR = 32


def _hf_cache() -> str:
    try:
        from huggingface_hub import constants
        return str(constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return '~/.cache/huggingface/hub'


def load_model(options: BackendOptions):
    """Build (model, image processor) from ``options.extra`` (``model`` or ``config_json``).

    Raises:
        BackendError: neither option set, an unreadable config, or a checkpoint that is neither
            a local directory nor reachable on the hub (the message names the hub id and cache).

    """
    config_json = options.extra.get('config_json', '').strip()
    if config_json:
        try:
            with open(config_json) as stream:
                settings = json.load(stream)
            config = transformers.AutoConfig.for_model(**settings)
        except (OSError, ValueError, KeyError) as error:
            raise BackendError(f'transformers config_json {config_json}: {error}') from error
        model = transformers.AutoModelForUniversalSegmentation.from_config(config)
        processor_class = {'mask2former': transformers.Mask2FormerImageProcessor,
                           'maskformer': transformers.MaskFormerImageProcessor}.get(
            config.model_type)
        if processor_class is None:
            raise BackendError(f'transformers config_json: no default image processor for '
                               f'{config.model_type!r}; save one next to a model directory')
        return model, processor_class()
    name = options.extra.get('model', '').strip()
    if not name:
        raise BackendError('transformers backend needs extra option model (hub id or local '
                           'directory) or config_json')
    kwargs = {'local_files_only': not options.allow_download}
    if options.extra.get('revision'):
        kwargs['revision'] = options.extra['revision']
    try:
        model = transformers.AutoModelForUniversalSegmentation.from_pretrained(name, **kwargs)
        processor = transformers.AutoProcessor.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as error:
        raise BackendError(
            f'cannot load transformers model {name!r}: not a local directory and not in the '
            f'HuggingFace cache ({_hf_cache()}) or the hub is unreachable '
            f'(allow_download={options.allow_download}); download it on a connected machine '
            f'(huggingface-cli download {name}) and copy the cache, or pass a local directory. '
            f'Cause: {error}') from error
    return model, processor


class UniversalSegmentationBackend(Segmenter):
    """A transformers Mask2Former / OneFormer panoptic model in canonical classes."""

    name = 'transformers'

    def __init__(self, options: BackendOptions = BackendOptions(), model=None, processor=None):
        self._options = options
        self.input_size = network_input_size(self.name, options, DEFAULT_INPUT_SIZE,
                                             INPUT_DIVISOR)
        self.device = select_device(options.device)
        self._half = bool(options.half and self.device.type == 'cuda')
        try:
            self.threshold = float(options.extra.get('threshold', '0.5'))
        except ValueError as error:
            raise BackendError(f'transformers extra option threshold: {error}') from None
        if model is None:
            model, processor = load_model(options)
        elif processor is None:
            raise BackendError('transformers backend: pass the image processor with the model')
        self.model = model.eval().to(self.device)
        if self._half:
            self.model.half()
        self.processor = processor
        id2label = {int(k): v for k, v in model.config.id2label.items()}
        lookup = label_sets.label_lookup(id2label, options.extra.get('label_set', 'auto'))
        if lookup.unknown:
            _LOG.warning('transformers model labels without a canonical class (unlabeled): %s',
                         ', '.join(lookup.unknown))
        self._table = lookup.table
        is_thing = taxonomy.thing_mask_table()
        # Labels that are not canonical things are fused: one segment per class and image.
        self._fuse_ids = {i for i in id2label if not is_thing[self._table[i]]}
        self._ids = tuple(sorted({int(self._table[i]) for i in id2label} - {taxonomy.UNLABELED}))
        image_processor = getattr(processor, 'image_processor', processor)
        self._mean = torch.tensor(image_processor.image_mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(image_processor.image_std, device=self.device).view(1, 3, 1, 1)
        self._is_oneformer = model.config.model_type == 'oneformer'

    @property
    def class_ids(self) -> Tuple[int, ...]:
        """Canonical ids of the model's labels."""
        return self._ids

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Resize and normalise a batch of (H, W, 3) uint8 RGB to (N, 3, h, w) float."""
        resized = resized_batch(images, self.input_size)
        batch = torch.from_numpy(resized).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        batch = (batch - self._mean) / self._std
        return batch.half() if self._half else batch

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor):
        """Run the model once on a ``preprocess``ed batch; return its raw outputs."""
        inputs = {'pixel_values': batch}
        if self._is_oneformer:
            dummy = [np.zeros((32, 32, 3), dtype=np.uint8)] * batch.shape[0]
            task = self.processor(images=dummy, task_inputs=['panoptic'] * batch.shape[0],
                                  return_tensors='pt')['task_inputs']
            inputs['task_inputs'] = task.to(self.device)
        return self.model(**inputs)

    def segment(self, images: Sequence[np.ndarray]) -> Tuple[PanopticResult, ...]:
        """Segment a batch of (H, W, 3) uint8 RGB images; see ``Segmenter.segment``."""
        if not images:
            return ()
        outputs = self.forward(self.preprocess(images))
        width, height = self.input_size
        if self._half:
            for key in ('class_queries_logits', 'masks_queries_logits'):
                setattr(outputs, key, getattr(outputs, key).float())
        with torch.inference_mode():
            panoptic = self.processor.post_process_panoptic_segmentation(
                outputs, threshold=self.threshold, label_ids_to_fuse=self._fuse_ids,
                target_sizes=[(height, width)] * len(images))
        return tuple(self._convert(item, image.shape[:2])
                     for item, image in zip(panoptic, images))

    def _convert(self, item, image_size) -> PanopticResult:
        segment_map = item['segmentation'].cpu().numpy().astype(np.int32)
        segment_map[segment_map < 0] = 0
        info = item['segments_info']
        count = max([s['id'] for s in info], default=0)
        classes = np.full(count, taxonomy.UNLABELED, dtype=np.uint8)
        scores = np.zeros(count, dtype=np.float32)
        for segment in info:
            classes[segment['id'] - 1] = self._table[int(segment['label_id'])]
            scores[segment['id'] - 1] = float(segment['score'])
        return panoptic_from_segments(segment_map, classes, scores, image_size,
                                      self._options.min_instance_area_px)

    def release(self) -> None:
        """Drop the model and free accelerator memory."""
        self.model = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
