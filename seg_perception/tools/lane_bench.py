"""``seg-perception bench --sections lanes``: what lane lines cost in the default configuration.

Times, on one frame: ESPNetv2 alone, ESPNetv2 with TwinLiteNet's lane lines (the default
backend ``espnetv2+twinlitenet``), the lane stage of the pipeline (grouping lane pixels into
lines and tracking them) and the lifting of the lines onto the ground plane.
"""

from typing import Dict, Sequence

import numpy as np

from seg_perception import paths
from seg_perception.weights import split_weights_dirs


def _weights_dirs(weights_dir: str) -> Sequence[str]:
    """Return the given folder(s), then the sample weights root and its ESPNetv2 folder."""
    dirs = list(split_weights_dirs(weights_dir))
    root = paths.sample_path('weights')
    if root is not None:
        dirs += [str(root), str(root / 'espnetv2_edgenets')]
    return tuple(dirs)


def measure(rgb: np.ndarray, weights_dir: str, device: str, repeats: int) -> Dict[str, float]:
    """Return median milliseconds per stage for one (H, W, 3) uint8 RGB frame.

    Keys: ``espnetv2``, ``espnetv2+twinlitenet`` (segment), ``lane_stage`` (group + track),
    ``lanes_on_ground``, ``lane_cost`` (the difference the lanes make), ``lines`` (count).
    """
    from seg_perception.backends.base import BackendOptions
    from seg_perception.backends.registry import create_backend
    from seg_perception.geometry.camera import CameraModel, pose_matrix
    from seg_perception.lanes.extractor import LaneExtractor
    from seg_perception.lanes.ground import lanes_on_ground
    from seg_perception.ros.benchmark import median_ms
    from seg_perception.taxonomy import class_id

    options = BackendOptions(weights_dirs=_weights_dirs(weights_dir), device=device,
                             allow_download=False)
    plain = create_backend('espnetv2', options)
    results = {'espnetv2': median_ms(lambda: plain.segment([rgb]), repeats)}
    plain.release()
    composite = create_backend('espnetv2+twinlitenet', options)
    results['espnetv2+twinlitenet'] = median_ms(lambda: composite.segment([rgb]), repeats)
    semantic = composite.segment([rgb])[0].semantic
    composite.release()
    mask = semantic == class_id('lane_marking')
    extractor = LaneExtractor()
    results['lane_stage'] = median_ms(lambda: extractor.update(rgb.shape[:2], mask),
                                      max(repeats, 20))
    lines = extractor.update(rgb.shape[:2], mask)
    height, width = rgb.shape[:2]
    focal = 0.8 * width
    camera = CameraModel.from_camera_info(
        [focal, 0, width / 2, 0, focal, height / 2, 0, 0, 1], [], width, height, 'none',
        base_from_body=pose_matrix(1.0, 0.0, 1.5, 0.0, 0.03, 0.0))
    results['lanes_on_ground'] = median_ms(lambda: lanes_on_ground(camera, lines),
                                           max(repeats, 20))
    results['lane_cost'] = results['espnetv2+twinlitenet'] - results['espnetv2'] + \
        results['lane_stage'] + results['lanes_on_ground']
    results['lines'] = float(len(lines))
    return results


def sample_road_frame() -> np.ndarray:
    """Return a BDD100K sample frame (lane lines) when sample data exists, else noise."""
    from seg_perception.tools.image_source import read_rgb
    folder = paths.sample_path('bdd100k_samples', 'twinlitenet_images')
    if folder is not None:
        frames = sorted(folder.glob('*.jpg'))
        if frames:
            return read_rgb(frames[0])
    return np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)


def print_rows(results: Dict[str, float], size: str, repeats: int) -> None:
    """Print the lane rows of the benchmark table."""
    print(f'lane lines in the default config, {size} frame (median of {repeats}):')
    for name in ('espnetv2', 'espnetv2+twinlitenet', 'lane_stage', 'lanes_on_ground',
                 'lane_cost'):
        print(f'  {name:<22} {results[name]:9.2f} ms')
    print(f'  ({int(results["lines"])} lane lines found)')
