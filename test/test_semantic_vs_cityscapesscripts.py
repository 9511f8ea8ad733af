"""``evaluate semantic`` gives the IoUs of cityscapesscripts on the same files."""

import copy

import cv2
import numpy as np
import pytest
from sample_data import sample

from seg_perception import label_sets
from seg_perception.tools import semantic_eval

cs_eval = pytest.importorskip('cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling')
cs_labels = pytest.importorskip('cityscapesscripts.helpers.labels')

SAMPLE_DIR = ('cityscapes_samples', 'mmseg_pseudo_cityscapes')
FRAME = 'frankfurt_000000_000294'


def _perturbed(gt_label_ids: np.ndarray) -> np.ndarray:
    """Return a labelIds prediction: the ground truth with regions relabelled."""
    pred = gt_label_ids.copy()
    h, w = pred.shape
    pred[: h // 4, : w // 3] = 23                               # sky over the top-left corner
    pred[h // 2: h // 2 + h // 10, w // 4: w // 2] = 7          # a road band
    cars = np.nonzero(pred == 26)
    left = cars[1] < w // 2
    pred[cars[0][left], cars[1][left]] = 27                     # cars on the left called truck
    pred[h - h // 6:, w - w // 5:] = 0                          # unlabeled bottom-right corner
    pred[h // 5: h // 3, w // 2: w // 2 + w // 8] = 4           # a non-evaluated label (static)
    pred[h // 3: h // 3 + 8, w // 6: w // 6 + 10] = 33          # bicycle, absent from the GT
    pred[::7, ::5] = 8                                          # sprinkled sidewalk
    return pred


def test_iou_equals_cityscapesscripts(tmp_path):
    gt_path = sample(*SAMPLE_DIR, f'{FRAME}_gtFine_labelIds.png')
    gt = cv2.imread(str(gt_path), cv2.IMREAD_UNCHANGED)
    pred_label_ids = _perturbed(gt)

    # Ours reads canonical ids; labelIds outside the 19 classes become unlabeled.
    ours_dir = tmp_path / 'ours'
    ours_dir.mkdir()
    canonical = label_sets.cityscapes_label_id_table()[pred_label_ids]
    cv2.imwrite(str(ours_dir / f'{FRAME}_leftImg8bit.png'), canonical)
    scores = semantic_eval.evaluate_semantic(ours_dir, gt_path.parent, 'cityscapes')
    assert scores.frames == 1

    # cityscapesscripts reads labelIds.
    cs_pred = tmp_path / 'cs' / f'{FRAME}_pred.png'
    cs_pred.parent.mkdir()
    cv2.imwrite(str(cs_pred), pred_label_ids)
    args = copy.copy(cs_eval.args)
    args.evalInstLevelScore = False
    args.evalPixelAccuracy = False
    args.quiet = True
    args.JSONOutput = False
    args.exportFile = str(tmp_path / 'cs' / 'result.json')
    result = cs_eval.evaluateImgLists([str(cs_pred)], [str(gt_path)], args)
    cs_scores = result['classScores']

    ours = dict(zip(scores.class_names, scores.iou()))
    present = dict(zip(scores.class_names, scores.present()))
    compared = []
    for label_id, name in label_sets.CITYSCAPES_LABEL_ID_NAMES.items():
        cs_iou = cs_scores[cs_labels.id2label[label_id].name]
        if present[name]:
            assert ours[name] == pytest.approx(cs_iou, abs=1e-12), name
            compared.append(cs_iou)
        else:  # cityscapesscripts: NaN, or 0 for a class predicted but absent from the GT
            assert np.isnan(cs_iou) or cs_iou == 0.0, name
    assert len(compared) >= 8
    assert scores.mean_iou() == pytest.approx(float(np.mean(compared)), abs=1e-12)
    # The perturbation matters: the scores are far from perfect.
    assert scores.mean_iou() < 0.95
    # With every GT class present in the average, cityscapesscripts' mean is ours.
    cs_present = [cs_scores[cs_labels.id2label[i].name]
                  for i, n in label_sets.CITYSCAPES_LABEL_ID_NAMES.items() if present[n]]
    assert np.mean(cs_present) == pytest.approx(scores.mean_iou(), abs=1e-12)
