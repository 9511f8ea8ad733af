"""``bench`` section ``detector``: extra cost per 1080p frame of the detector and the fusion."""

import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from seg_perception import paths

#: Tile rows measured (0 = one full-frame pass; see ``yolox_onnx.tile_windows``).
TILE_ROWS = (0, 1, 2)


def detector_rows(primary, rgb: np.ndarray, weights_dirs: Sequence[str], device: str,
                  repeats: int) -> Optional[List[Dict]]:
    """Time YOLOX detection and fusion on ``rgb`` beside a semantic backend's result.

    Args:
        primary: the semantic backend's ``PanopticResult`` of ``rgb``, fused each time.
        rgb: (H, W, 3) uint8 frame.
        weights_dirs: where ``yolox_nano.onnx`` is looked for (the sample weights are added).
        device: detector device (``cpu``, ``auto``, ``cuda``...).
        repeats: timed runs; medians are reported.

    Returns:
        one row per tile setting: ``tile_rows``, ``forwards``, ``detect_ms``, ``fuse_ms`` (wall
        clock), ``detect_cpu_ms`` (CPU time of all threads: less sensitive to a busy machine),
        ``detections``, ``instances``; None when the weights or onnxruntime are missing.

    """
    from seg_perception.backends.base import BackendError, DetectorOptions
    from seg_perception.backends.detected_instances import find_detector_weights
    from seg_perception.backends.detection_fusion import fuse_detections, FusionOptions
    from seg_perception.backends.yolox_onnx import tile_windows, YoloxOnnxDetector
    sample = paths.sample_path('weights', 'yolox_nano')
    dirs = list(weights_dirs) + ([str(sample)] if sample else [])
    try:
        detector = YoloxOnnxDetector(find_detector_weights(DetectorOptions(name='yolox'), dirs),
                                     device=device)
    except BackendError as error:
        print(f'detector section skipped: {error}')
        return None
    rows = []
    for tile_rows in TILE_ROWS:
        detect_ms, fuse_ms, detect_cpu_ms = [], [], []
        for _ in range(max(1, repeats)):
            start, cpu_start = time.perf_counter(), time.process_time()
            found = detector.detect(rgb, tile_rows)
            middle = time.perf_counter()
            detect_cpu_ms.append((time.process_time() - cpu_start) * 1e3)
            fused = fuse_detections(primary.semantic, found, rgb.shape[:2], FusionOptions(),
                                    primary)
            detect_ms.append((middle - start) * 1e3)
            fuse_ms.append((time.perf_counter() - middle) * 1e3)
        aspect = detector.input_size[1] / detector.input_size[0]
        rows.append({
            'tile_rows': tile_rows,
            'forwards': 1 + len(tile_windows(rgb.shape[:2], tile_rows, 0.2, aspect)),
            'detect_ms': float(np.median(detect_ms)), 'fuse_ms': float(np.median(fuse_ms)),
            'detect_cpu_ms': float(np.median(detect_cpu_ms)),
            'detections': len(found), 'instances': len(fused.segments)})
    print(f'detector + fusion per frame, 1920x1080, YOLOX {detector.path.name} '
          f'{detector.input_size[1]}x{detector.input_size[0]} on {detector.providers[0]}, '
          f'fused with the semantic map (median of {repeats}):')
    for row in rows:
        print(f'  tile rows {row["tile_rows"]} ({row["forwards"]} forwards): detect '
              f'{row["detect_ms"]:.1f} ms ({row["detect_cpu_ms"]:.0f} ms CPU time), fuse '
              f'{row["fuse_ms"]:.1f} ms, '
              f'{row["detections"]} detections -> {row["instances"]} instances')
    return rows
