"""The main job side by side, engine and configuration: ``bench --sections drive``.

Runs ``drive``'s loop (the node in its own process, fed an image folder over the ROS graph in
lock-step, overlay subscribed) once per variant and scores its semantic images against the
folder's CamVid labels:

- ESPNetv2 alone on torch with the authors' argmax at the input size: the engine and labelling
  the node had before issue 14 (its old host path is gone; ``bench --sections node`` times it
  from ``backends/postprocess_reference.py``);
- ESPNetv2 alone on the default engine (``engine: auto``);
- the parameter file's configuration as it is (the default: three networks).
"""

import argparse
from pathlib import Path
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from seg_perception.tools.drive import drive_node
from seg_perception.tools.semantic_eval import evaluate_semantic

#: (key, description, parameter overrides) of each variant, in the order they run.
VARIANTS: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    ('espnetv2_torch_authors', 'ESPNetv2 alone, torch, argmax at the input size',
     ('backend:=espnetv2', "detector:=''", 'engine:=torch',
      'backend_extra:=espnetv2_argmax_at_input_size=true')),
    ('espnetv2_auto', 'ESPNetv2 alone, engine auto',
     ('backend:=espnetv2', "detector:=''", 'engine:=auto')),
    ('params_file', 'the parameter file', ()),
)


def drive_rows(source: Path, labels: Optional[Path], params_file: Path, weights_dir: str,
               limit: int = 0, variants: Sequence[str] = ()) -> List[Dict]:
    """Drive the node through ``source`` once per variant; return one row per variant.

    Args:
        source: image folder (or video) the node is fed, as ``drive`` takes it.
        labels: CamVid-format label folder scored against the semantic images; None: no mIoU.
        params_file: the node's parameter file; the variants override some of its values.
        weights_dir: ``':'``-separated checkpoint folders.
        limit: frames per variant (0 = all).
        variants: keys of ``VARIANTS`` to run (empty = all).

    Returns:
        rows with ``key``, ``description``, ``frames``, ``mean_ms`` and ``median_ms`` (publish
        to receipt of ``semantic``), ``frames_per_s`` (1000 / mean, lock-step), and
        ``mean_iou`` / ``pixel_accuracy`` (None without labels).

    Raises:
        RuntimeError: a node did not come up (its log is named) or returned no frame.

    """
    log_dir = Path(tempfile.mkdtemp(prefix='seg_perception_bench_drive_'))
    print(f'  (node logs and images in {log_dir})', flush=True)
    options = argparse.Namespace(params_file=params_file, weights_dir=weights_dir,
                                 source=source, limit=limit, topic='/camera/image_raw',
                                 encoding='rgb8', fps=10.0, frame_id='camera_optical_frame',
                                 timeout=120.0)
    rows = []
    for key, description, overrides in VARIANTS:
        if variants and key not in variants:
            continue
        out = log_dir / key
        ros_args = [part for override in overrides for part in ('-p', override)]
        latencies = np.array(drive_node(options, out, ros_args, quiet=True))
        if latencies.size == 0:
            raise RuntimeError(f'{key} returned no frame; see {out / "node.log"}')
        scores = _scores(out / 'semantic', labels)
        rows.append({
            'key': key, 'description': description, 'frames': int(latencies.size),
            'mean_ms': float(latencies.mean()), 'median_ms': float(np.median(latencies)),
            'frames_per_s': float(1000.0 / latencies.mean()),
            'mean_iou': scores.mean_iou() if scores else None,
            'pixel_accuracy': scores.pixel_accuracy() if scores else None,
        })
    return rows


def _scores(semantic_dir: Path, labels: Optional[Path]):
    """Return the CamVid scores of a variant's semantic images, or None (said why)."""
    if labels is None:
        return None
    try:
        return evaluate_semantic(semantic_dir, labels, 'camvid')
    except (FileNotFoundError, ValueError) as error:  # e.g. labels of other frames
        print(f'  (no mIoU: {error})', flush=True)
        return None


def print_rows(rows: List[Dict]) -> None:
    """Print the rows as a table, with each variant's frames/s against the first one's."""
    print(f'  {"variant":<50} {"frames":>6} {"mean ms":>8} {"frames/s":>8} {"vs first":>8} '
          f'{"mIoU":>6}')
    for row in rows:
        miou = '' if row['mean_iou'] is None else f'{row["mean_iou"]:.4f}'
        ratio = row['frames_per_s'] / rows[0]['frames_per_s']
        print(f'  {row["description"]:<50} {row["frames"]:>6} {row["mean_ms"]:>8.1f} '
              f'{row["frames_per_s"]:>8.2f} {ratio:>7.2f}x {miou:>6}', flush=True)
