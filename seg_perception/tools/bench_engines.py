"""``bench --sections engines``: ESPNetv2 on every inference engine, side by side.

For each engine (and precision): the median latency of one engine call (normalisation, forward,
argmax, label lookup, confidence) on a batch at 1024x512, the fraction of pixels labelled as
torch labels them, and the mIoU on the CamVid and Cityscapes sample frames with their ground
truth. ``engine = 'auto'`` may pick an engine only if it keeps the labels (mIoU within
``MIOU_TOLERANCE`` of torch on both sets).
"""

from pathlib import Path
import threading
import time
from typing import Dict, List, Tuple

import numpy as np

from seg_perception import paths
from seg_perception.backends.base import BackendError, BackendOptions
from seg_perception.backends.engines import OPENVINO_PRECISION_KEY
from seg_perception.tools import semantic_eval
from seg_perception.tools.image_source import read_rgb
from seg_perception.weights import split_weights_dirs

#: Largest mIoU change against torch that still counts as the same labels.
MIOU_TOLERANCE = 0.005


def engine_variants(device: str) -> List[Tuple[str, str, Dict[str, str]]]:
    """(row label, engine, extra options) of the engines worth comparing on ``device``."""
    if device.startswith('cuda'):
        return [('torch', 'torch', {}), ('onnxruntime', 'onnxruntime', {})]
    return [('torch', 'torch', {}), ('onnxruntime', 'onnxruntime', {}),
            ('openvino f32', 'openvino', {OPENVINO_PRECISION_KEY: 'f32'}),
            ('openvino bf16', 'openvino', {OPENVINO_PRECISION_KEY: 'bf16'})]


def scored_frames(camvid_frames: int) -> List[Tuple[str, Path, Path]]:
    """(dataset, image, ground truth) of the sample frames that have ground truth.

    Args:
        camvid_frames: CamVid frames to take, spread evenly over the drive (0 = all).

    """
    frames = []
    camvid = paths.sample_path('camvid_samples')
    if camvid is not None:
        images = sorted((camvid / 'images').glob('*.png'))
        if camvid_frames and len(images) > camvid_frames:
            keep = np.linspace(0, len(images) - 1, camvid_frames).round().astype(int)
            images = [images[i] for i in keep]
        frames += [('camvid', image, camvid / 'labels' / image.name) for image in images
                   if (camvid / 'labels' / image.name).exists()]
    cityscapes = paths.sample_path('cityscapes_instances')
    if cityscapes is not None:
        for image in sorted((cityscapes / 'images').glob('*_leftImg8bit.png')):
            gt = cityscapes / 'gt' / image.name.replace('_leftImg8bit', '_gtFine_labelIds')
            if gt.exists():
                frames.append(('cityscapes', image, gt))
    return frames


def _mean_iou(dataset: str, pairs: List[Tuple[np.ndarray, Path]]) -> float:
    """Return the mIoU of canonical predictions against ground-truth files of one format."""
    gt_dir = pairs[0][1].parent
    names, canonical_to_index, files = semantic_eval._ground_truth(gt_dir, dataset)
    tables = {path: table for path, table in files}
    confusion = np.zeros((len(names), len(names) + 1), dtype=np.int64)
    for prediction, gt_path in pairs:
        gt = tables[gt_path][semantic_eval.read_label_image(gt_path)]
        predicted = canonical_to_index[semantic_eval.fit_labels(prediction, gt.shape)]
        confusion += semantic_eval.confusion_matrix(gt, predicted, len(names))
    return semantic_eval.SemanticScores(names, confusion, len(pairs)).mean_iou()


def compare_engines(weights_dir: str, device: str = 'cpu', half: bool = False,
                    camvid_frames: int = 12, batch: int = 1, repeats: int = 5) -> List[Dict]:
    """Run every engine variant, print one row each, return the rows.

    Returns:
        per variant: ``engine``, ``description``, ``latency_ms`` (one call on ``batch``
        frames), ``agreement`` (pixel fraction equal to torch), ``miou`` per dataset,
        ``keeps_labels``; or ``engine`` and ``error`` when it could not be built.

    """
    from seg_perception.backends.espnetv2 import ESPNetv2Backend

    frames = scored_frames(camvid_frames)
    images = [read_rgb(image) for _, image, _ in frames]
    print(f'engines: ESPNetv2 s=2.0 at 1024x512 on {device}, batch {batch}, '
          f'{len(frames)} scored frames (median of {repeats} calls; cpu = process CPU ms '
          'per call):')
    print(f'  {"engine":<15} {"ms/call":>9} {"ms/frame":>9} {"cpu ms":>9} {"vs torch":>9} '
          f'{"agree":>9} '
          + ''.join(f'{"mIoU " + d:>16}' for d in sorted({f[0] for f in frames})))
    rows: List[Dict] = []
    reference, torch_row = None, None
    for label, engine, extra in engine_variants(device):
        try:
            backend = ESPNetv2Backend(BackendOptions(
                weights_dirs=split_weights_dirs(weights_dir), allow_download=False,
                device=device, half=half, engine=engine, extra=extra))
        except BackendError as error:
            print(f'  {label:<15} not available: {error}')
            rows.append({'engine': label, 'error': str(error)})
            continue
        predictions = [backend.infer_labels([image])[0][0] for image in images]
        row = {'engine': label, 'description': backend.engine.description, 'miou': {}}
        for dataset in sorted({f[0] for f in frames}):
            pairs = [(p, gt) for p, (d, _, gt) in zip(predictions, frames) if d == dataset]
            row['miou'][dataset] = _mean_iou(dataset, pairs)
        # One engine alive at a time: an idle engine's worker threads (ONNX Runtime spins,
        # OpenVINO's pool) would take the CPU from the one being timed.
        prepared = backend.resize([images[0]] * batch).copy()
        times, cpu_times = [], []

        def timed_calls(engine=backend.engine):
            for repeat in range(max(repeats, 1) + 1):  # the first call warms up
                start, start_cpu = time.perf_counter(), time.process_time()
                engine.run(prepared)
                if repeat:
                    times.append((time.perf_counter() - start) * 1000.0)
                    cpu_times.append((time.process_time() - start_cpu) * 1000.0)
        # Timed from a worker thread, as the node calls the backend (torch from the main thread
        # was 2.5x slower than from another thread on this loaded machine).
        worker = threading.Thread(target=timed_calls)
        worker.start()
        worker.join()
        backend.release()
        latency = float(np.median(times))
        row.update(latency_ms=latency, latency_per_frame_ms=latency / batch,
                   cpu_ms=float(np.median(cpu_times)))
        if reference is None:
            reference, torch_row = predictions, row
        equal = sum(int(np.count_nonzero(a == b)) for a, b in zip(predictions, reference))
        row['agreement'] = equal / sum(p.size for p in predictions) if predictions else 1.0
        row['speedup_vs_torch'] = torch_row['latency_ms'] / latency
        row['keeps_labels'] = all(
            abs(row['miou'][d] - torch_row['miou'][d]) <= MIOU_TOLERANCE for d in row['miou'])
        rows.append(row)
        print(f'  {label:<15} {latency:9.1f} {latency / batch:9.1f} {row["cpu_ms"]:9.1f} '
              f'{row["speedup_vs_torch"]:8.2f}x {row["agreement"]:9.5f} '
              + ''.join(f'{row["miou"][d]:16.4f}' for d in sorted(row['miou']))
              + ('' if row['keeps_labels'] else '  (changes the labels)'), flush=True)
    return rows
