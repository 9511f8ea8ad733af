"""Export a ``SegmentationGraph`` once and keep it, keyed by the checkpoint's checksum.

Two formats: ONNX (for ONNX Runtime; ``torch.onnx.export(..., dynamo=True)``, about 30 s for
ESPNetv2 at 1024x512 here) and OpenVINO IR (``openvino.convert_model`` straight from the torch
graph, about 13 s for the same graph: OpenVINO no longer goes through ONNX).

The files go next to the checkpoint when that folder is writable, else into
``<weights cache>/onnx/`` (``$SEG_PERCEPTION_WEIGHTS_DIR`` or ``~/.cache/seg_perception/weights``).
Their names hold everything that changes the graph: the checkpoint's sha256, the graph variant
(model scale, input size, options) and ``EXPORT_VERSION`` (bumped when the graph code changes),
so a new checkpoint or setting gets a new file and a stale one is never used.
"""

import contextlib
import logging
import os
from pathlib import Path
import shutil
import tempfile
from typing import Callable, Iterator, Optional, Sequence
import warnings

from seg_perception.backends.base import BackendError
from seg_perception.weights import default_cache_dir, file_sha256

#: Bump when ``graph.py`` or a network module changes what an exported file computes.
EXPORT_VERSION = 3
#: Opset of the exported graphs (ONNX Runtime >= 1.20 and OpenVINO 2024+ run it).
OPSET = 18
_LOG = logging.getLogger(__name__)

#: File suffix per export format.
SUFFIXES = {'onnx': '.onnx', 'openvino': '.xml'}


def cache_candidates(weights_path: Path, variant: str, cache_dir: Optional[Path] = None,
                     export_format: str = 'onnx') -> list:
    """Return the places an export of ``weights_path`` may live, in the order they are used.

    Args:
        weights_path: the checkpoint the graph was built from.
        variant: what else shapes the graph, e.g. ``'s2.0_1024x512'`` (file-name safe).
        cache_dir: the fallback folder; defaults to ``default_cache_dir() / 'onnx'``.
        export_format: ``'onnx'`` or ``'openvino'`` (an ``.xml`` file with its ``.bin`` beside).

    """
    digest = file_sha256(weights_path)[:16]
    name = f'{weights_path.stem}.{variant}.v{EXPORT_VERSION}.{digest}{SUFFIXES[export_format]}'
    fallback = Path(cache_dir) if cache_dir else default_cache_dir() / 'onnx'
    return [weights_path.parent / name, fallback / name]


def cached_export(weights_path: Path, variant: str, build_graph: Callable[[], object],
                  example_shape: Sequence[int], output_names: Sequence[str],
                  cache_dir: Optional[Path] = None, export_format: str = 'onnx') -> Path:
    """Return the path of the exported graph, exporting it first when no cached file exists.

    Args:
        weights_path: the checkpoint (its sha256 keys the file).
        variant: see ``cache_candidates``.
        build_graph: returns the float32 CPU ``SegmentationGraph`` to export (called only when
            exporting).
        example_shape: (H, W) of the uint8 example input; its batch axis is dynamic.
        output_names: names of the graph's outputs.
        cache_dir: see ``cache_candidates``.
        export_format: ``'onnx'`` or ``'openvino'``.

    Raises:
        BackendError: the exporter is missing (names the install command) or failed, or no
            candidate folder is writable.

    """
    if export_format not in SUFFIXES:
        raise BackendError(f'export format must be one of {", ".join(SUFFIXES)}, '
                           f'got {export_format!r}')
    candidates = cache_candidates(Path(weights_path), variant, cache_dir, export_format)
    for candidate in candidates:
        # An IR is whole with its weights beside it; a lone .xml is exported again.
        if candidate.is_file() and (export_format != 'openvino'
                                    or candidate.with_suffix('.bin').is_file()):
            return candidate
    target = next((c for c in candidates if _writable(c.parent)), None)
    if target is None:
        raise BackendError(
            f'cannot store the {export_format} export: none of '
            f'{[str(c.parent) for c in candidates]} is writable (set '
            '$SEG_PERCEPTION_WEIGHTS_DIR to a writable folder)')
    _LOG.warning('exporting %s once to %s (10-40 s; later starts read the file)', variant,
                 target)
    export = _export_onnx if export_format == 'onnx' else _export_openvino
    export(build_graph(), example_shape, output_names, target)
    return target


def _writable(folder: Path) -> bool:
    """Whether we may add files to ``folder`` (created if missing).

    A folder without any write permission bit counts as read-only even for root, who could
    write there anyway: shared weights folders are made read-only on purpose.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)


def _export_onnx(graph, example_shape: Sequence[int], output_names: Sequence[str],
                 target: Path) -> None:
    import torch
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError as error:
        raise BackendError(
            f'exporting to ONNX needs onnx and onnxscript ({error}); install with: '
            'pip install onnx==1.23.2 onnxscript==0.7.2') from error
    # A batch of 2: torch.export specialises axes of size 1, which would fix the batch at 1.
    example = torch.zeros((2,) + tuple(example_shape) + (3,), dtype=torch.uint8)
    batch = torch.export.Dim('batch', min=1, max=64)
    with _staging(target, 'ONNX export') as staging:
        # The dynamo exporter: the legacy TorchScript one fails on ESPNetv2's pyramid pooling.
        program = torch.onnx.export(
            graph.eval(), (example,), dynamo=True, opset_version=OPSET,
            input_names=['images'], output_names=list(output_names),
            dynamic_shapes=({0: batch},), verbose=False)
        staged = staging / target.name
        program.save(str(staged), external_data=False)
        staged.chmod(0o644)  # a cache is read by every user
        staged.replace(target)


def _export_openvino(graph, example_shape: Sequence[int], output_names: Sequence[str],
                     target: Path) -> None:
    """Convert ``graph`` to OpenVINO IR at ``target`` (``.xml``, with its ``.bin`` beside)."""
    import torch
    try:
        import openvino
    except ImportError as error:
        raise BackendError(f'the OpenVINO export needs openvino ({error}); install with: '
                           'pip install openvino==2026.4.1') from error
    height, width = (int(v) for v in example_shape)
    example = torch.zeros((2, height, width, 3), dtype=torch.uint8)
    with _staging(target, 'OpenVINO conversion') as staging:
        with warnings.catch_warnings():
            # Shape arithmetic traced to constants: right, as the input size is fixed.
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            model = openvino.convert_model(
                graph.eval(), example_input=example,
                input=[openvino.PartialShape([-1, height, width, 3])])
        for output, name in zip(model.outputs, output_names):
            output.get_tensor().set_names({name})
        staged = staging / target.name
        openvino.save_model(model, str(staged), compress_to_fp16=False)
        for path in (staged.with_suffix('.bin'), staged):
            path.chmod(0o644)  # a cache is read by every user
        # The .xml is what is looked for: it appears last, with its weights already there.
        staged.with_suffix('.bin').replace(target.with_suffix('.bin'))
        staged.replace(target)


@contextlib.contextmanager
def _staging(target: Path, what: str) -> Iterator[Path]:
    """Yield a new private folder beside ``target`` to write into; remove it afterwards.

    Files move from it into place only when complete, so a reader never sees a partial export,
    and two processes exporting at once each write their own. Failures other than
    ``BackendError`` are raised as one naming ``what`` and ``target``.
    """
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=target.name + '.part'))
    try:
        yield staging
    except BackendError:
        raise
    except Exception as error:  # the exporters raise many types
        raise BackendError(f'{what} to {target} failed: {type(error).__name__}: '
                           f'{error}') from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
