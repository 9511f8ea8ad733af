"""Backends by name; each is imported only when asked for, so heavy imports stay optional."""

import importlib
from typing import Dict, Tuple

from seg_perception.backends.base import BackendError, BackendOptions, Segmenter


# name -> ('module', 'ClassName' or factory function taking BackendOptions, 'pip packages needed')
_BACKENDS: Dict[str, Tuple[str, str, str]] = {
    'espnetv2': ('seg_perception.backends.espnetv2', 'ESPNetv2Backend', 'torch opencv-python'),
    'espnetv2+twinlitenet': ('seg_perception.backends.composite',
                             'espnetv2_with_twinlitenet_lanes', 'torch opencv-python'),
    'twinlitenet': ('seg_perception.backends.twinlitenet', 'TwinLiteNetBackend',
                    'torch opencv-python'),
    'lstr': ('seg_perception.backends.lstr', 'LSTRBackend', 'torch opencv-python'),
    'espnetv2+lstr': ('seg_perception.backends.composite', 'espnetv2_with_lstr_lanes',
                      'torch opencv-python'),
    'torchvision': ('seg_perception.backends.torchvision_panoptic', 'TorchvisionPanopticBackend',
                    'torch torchvision opencv-python scipy'),
    'transformers': ('seg_perception.backends.hf_universal', 'UniversalSegmentationBackend',
                     'torch transformers opencv-python scipy'),
    'detectron2': ('seg_perception.backends.detectron2_backend', 'Detectron2Backend',
                   'torch detectron2 opencv-python scipy'),
}

# How to install what pip alone cannot (default: ``pip install <requirements>``).
_INSTALL_HINTS: Dict[str, str] = {
    'transformers': 'pip install -r requirements.txt (section transformers)',
    'detectron2': 'scripts/install_detectron2.sh VENV (detectron2 has no working wheel on PyPI; '
                  'elsewhere follow https://detectron2.readthedocs.io/en/latest/tutorials/'
                  'install.html)',
}


def available_backends() -> Tuple[str, ...]:
    """Names accepted by ``create_backend``, sorted."""
    return tuple(sorted(_BACKENDS))


def create_backend(name: str, options: BackendOptions = BackendOptions()) -> Segmenter:
    """Build the backend called ``name``.

    With ``options.detector.name`` set, the backend is wrapped in a
    ``detected_instances.DetectionFusionSegmenter`` (its instances come from the detector).

    Raises:
        BackendError: unknown name (the message lists the known ones) or a missing optional
            dependency (the message says what to install).

    """
    if name not in _BACKENDS:
        raise BackendError(
            f'unknown backend {name!r}; available: {", ".join(available_backends())}')
    module_name, class_name, requirements = _BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BackendError(
            f'backend {name!r} needs {requirements}: import failed ({error}); '
            f'install with: {_INSTALL_HINTS.get(name, "pip install " + requirements)}; '
            f'backends: {", ".join(available_backends())}'
        ) from error
    segmenter = getattr(module, class_name)(options)
    if options.detector.name:  # detector + fusion around any backend (parameter ``detector``)
        from seg_perception.backends.detected_instances import with_detector
        try:
            segmenter = with_detector(segmenter, options)
        except BackendError:
            segmenter.release()
            raise
    return segmenter
