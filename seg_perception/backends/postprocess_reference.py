"""The ESPNetv2 host-side work as it was before the engine graph (issue 14), kept as a reference.

``seg-perception bench`` times it beside the current path (its 'before' column), and the tests
check the current path against it on random logits. Not used by the node.
"""

from typing import List, Sequence, Tuple

import cv2
import numpy as np
import torch

from seg_perception import taxonomy
from seg_perception.backends.base import resized_batch
from seg_perception.structures import PanopticResult, Segment

_IS_THING = taxonomy.thing_mask_table()


def preprocess(images: Sequence[np.ndarray], size: Tuple[int, int], mean: np.ndarray,
               inv_std: np.ndarray, device: torch.device = torch.device('cpu')) -> torch.Tensor:
    """Resize (np.stack of cv2 resizes) and normalise in torch: (N, 3, h, w) float32."""
    resized = resized_batch(images, size)
    batch = torch.from_numpy(resized).to(device).permute(0, 3, 1, 2).float()
    return (batch - torch.from_numpy(mean).to(device).view(1, 3, 1, 1)) * \
        torch.from_numpy(inv_std).to(device).view(1, 3, 1, 1)


@torch.inference_mode()
def labels_from_logits(logits: torch.Tensor, label_table: np.ndarray, stride: int = 4
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """(N, C, h, w) logits -> (N, h, w) uint8 ids and (N, h, w) float32 repeated confidence."""
    train_ids = logits.permute(0, 2, 3, 1).argmax(dim=-1)
    labels = torch.from_numpy(label_table).to(logits.device)[train_ids].cpu().numpy()
    sparse = logits[:, :, ::stride, ::stride]
    sparse_confidence = torch.softmax(sparse, dim=1).amax(dim=1).cpu().numpy()
    confidence = sparse_confidence.repeat(stride, axis=1).repeat(
        stride, axis=2)[:, :labels.shape[1], :labels.shape[2]]
    return labels, confidence


def panoptic_from_semantic(semantic: np.ndarray, image_size: Tuple[int, int],
                           min_area_px: float = 64.0, scores: np.ndarray = None
                           ) -> PanopticResult:
    """One ``connectedComponentsWithStats`` pass per thing class over the whole map."""
    height, width = semantic.shape
    scale_y = image_size[0] / height
    scale_x = image_size[1] / width
    pixel_area = scale_x * scale_y
    instance_map = np.zeros((height, width), dtype=np.int32)
    segments: List[Segment] = []
    present = np.unique(semantic)
    for class_id in present[_IS_THING[present]]:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (semantic == class_id).view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        for component in range(1, count):
            x, y, w, h, area = stats[component]
            if area * pixel_area < min_area_px:
                continue
            segment_id = len(segments) + 1
            window = labels[y:y + h, x:x + w] == component
            instance_map[y:y + h, x:x + w][window] = segment_id
            score = 1.0 if scores is None else float(scores[y:y + h, x:x + w][window].mean())
            segments.append(Segment(
                segment_id=segment_id, class_id=int(class_id), score=score,
                bbox=(x * scale_x, y * scale_y, (x + w) * scale_x, (y + h) * scale_y),
                area=float(area * pixel_area)))
    return PanopticResult(semantic=semantic, instance_map=instance_map, segments=tuple(segments))


def instances_at_input_size(panoptic: PanopticResult, values: np.ndarray, height: int,
                            width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Look up every pixel's instance value, then resize both maps (the old resize step)."""
    instances = values[panoptic.instance_map]
    semantic = cv2.resize(panoptic.semantic, (width, height),
                          interpolation=cv2.INTER_NEAREST_EXACT)
    return semantic, cv2.resize(instances, (width, height),
                                interpolation=cv2.INTER_NEAREST_EXACT)
