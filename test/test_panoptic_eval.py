"""Panoptic quality against hand-computed numbers and a straightforward reference."""

import argparse
from fractions import Fraction
import json

import cv2
import numpy as np
from PIL import Image
import pytest
from sample_data import sample

from seg_perception import label_sets, taxonomy
from seg_perception.tools import panoptic_eval

ROAD, CAR, PERSON = (taxonomy.class_id(name) for name in ('road', 'car', 'person'))
UNLABELED = taxonomy.UNLABELED
STEM = 'aachen_000000_000019'


def _hand_made_case():
    """Return (gt instanceIds, predicted semantic, predicted instances), 8 x 10 pixels."""
    gt = np.zeros((8, 10), np.uint16)           # rows 0-1: void (labelId 0)
    gt[2:8, 0:4] = 26001                        # car A, 24 px
    gt[2:8, 4:6] = 24                           # person crowd, 12 px
    gt[2:8, 6:10] = 7                           # road ...
    gt[6:8, 8:10] = 26002                       # ... but for car B, 4 px; road keeps 20 px
    semantic = np.full((8, 10), UNLABELED, np.uint8)
    instances = np.zeros((8, 10), np.uint16)
    semantic[1:7, 0:4], instances[1:7, 0:4] = CAR, 1        # car A, shifted up onto void
    semantic[7, 0:4] = ROAD                                 # car A's last row called road
    semantic[2:8, 4:6], instances[2:8, 4:6] = PERSON, 2     # a person on the crowd region
    semantic[2:8, 6:10] = ROAD                              # road, swallowing car B
    semantic[2:4, 6:8], instances[2:4, 6:8] = CAR, 3        # a car on the road
    semantic[0, 5:10], instances[0, 5:10] = CAR, 4          # a car on void only
    return gt, semantic, instances


# Derivation of the hand-made case's numbers:
# car A: prediction 24 px (4 on void), GT 24 px, intersection 20;
#        union = 24 + 24 - 20 - 4 (void) = 24, IoU = 20/24 = 5/6 > 1/2: TP.
# car B: no car prediction overlaps it: FN.
# car 3: 4 px on GT road, unmatched, none on void: FP.
# car 4: all 5 px on void: ignored.  person 2: all on the person crowd: ignored, and the crowd
#        is no FN, so person has no TP, FP nor FN and is left out of the averages.
# road: prediction = 20 px (rows 2-7, cols 6-9, without car 3) + 4 px (row 7, cols 0-3) = 24;
#        GT 20 px, intersection 16 (GT road without car 3); union = 24 + 20 - 16 = 28,
#        IoU = 16/28 = 4/7: TP.
CAR_PQ = Fraction(5, 6) / (1 + Fraction(1, 2) + Fraction(1, 2))      # 5/12
CAR_SQ, CAR_RQ = Fraction(5, 6), Fraction(1, 2)
ROAD_PQ = ROAD_SQ = Fraction(4, 7)
ROAD_RQ = Fraction(1)


def test_hand_made_case_counts():
    counts = panoptic_eval.frame_counts(*_hand_made_case())
    car = panoptic_eval.CLASS_NAMES.index('car')
    road = panoptic_eval.CLASS_NAMES.index('road')
    assert (counts.tp[car], counts.fp[car], counts.fn[car]) == (1, 1, 1)
    assert (counts.tp[road], counts.fp[road], counts.fn[road]) == (1, 0, 0)
    assert counts.tp.sum() == 2 and counts.fp.sum() == 1 and counts.fn.sum() == 1
    assert counts.iou_sum[car] == pytest.approx(5 / 6)
    assert counts.iou_sum[road] == pytest.approx(4 / 7)


def test_hand_made_case_through_files_and_cli(tmp_path, capsys):
    gt, semantic, instances = _hand_made_case()
    (tmp_path / 'gt' / 'aachen').mkdir(parents=True)
    (tmp_path / 'pred').mkdir()
    cv2.imwrite(str(tmp_path / 'gt' / 'aachen' / f'{STEM}_gtFine_instanceIds.png'), gt)
    cv2.imwrite(str(tmp_path / 'pred' / f'{STEM}_leftImg8bit.png'), semantic)
    cv2.imwrite(str(tmp_path / 'pred' / f'{STEM}_leftImg8bit_instances.png'), instances)

    parser = argparse.ArgumentParser()
    panoptic_eval.add_arguments(parser)
    args = parser.parse_args(['--pred', str(tmp_path / 'pred'), '--gt', str(tmp_path / 'gt'),
                              '--json'])
    assert panoptic_eval.run(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert result['frames'] == 1
    assert set(result['per_class']) == {'car', 'road'}
    car, road = result['per_class']['car'], result['per_class']['road']
    assert (car['pq'], car['sq'], car['rq']) == pytest.approx(
        (float(CAR_PQ), float(CAR_SQ), float(CAR_RQ)))
    assert (road['pq'], road['sq'], road['rq']) == pytest.approx(
        (float(ROAD_PQ), float(ROAD_SQ), float(ROAD_RQ)))
    assert result['things']['pq'] == pytest.approx(float(CAR_PQ))
    assert result['stuff']['pq'] == pytest.approx(float(ROAD_PQ))
    # all: (5/12 + 4/7) / 2 = 83/168; SQ (5/6 + 4/7) / 2 = 59/84; RQ (1/2 + 1) / 2 = 3/4
    assert result['all']['pq'] == pytest.approx(float(Fraction(83, 168)))
    assert result['all']['sq'] == pytest.approx(float(Fraction(59, 84)))
    assert result['all']['rq'] == pytest.approx(0.75)
    assert result['all']['classes'] == 2


def test_missing_instances_file_means_no_thing_segments(tmp_path):
    gt, semantic, _ = _hand_made_case()
    (tmp_path / 'gt').mkdir()
    (tmp_path / 'pred').mkdir()
    cv2.imwrite(str(tmp_path / 'gt' / f'{STEM}_gtFine_instanceIds.png'), gt)
    cv2.imwrite(str(tmp_path / 'pred' / f'{STEM}.png'), semantic)
    counts = panoptic_eval.evaluate_panoptic(tmp_path / 'pred', tmp_path / 'gt')
    car = panoptic_eval.CLASS_NAMES.index('car')
    assert (counts.tp[car], counts.fp[car], counts.fn[car]) == (0, 0, 2)


def test_no_matching_prediction_raises(tmp_path):
    (tmp_path / 'gt').mkdir()
    (tmp_path / 'pred').mkdir()
    with pytest.raises(FileNotFoundError):
        panoptic_eval.evaluate_panoptic(tmp_path / 'pred', tmp_path / 'gt')


def _reference_counts(gt_ids, semantic, instances):
    """Compute PQ counts segment by segment with boolean masks, as panopticapi does."""
    names = panoptic_eval.CLASS_NAMES
    gt_segments, void, pred_segments = _segments(gt_ids, semantic, instances)
    tp, fp, fn = ({name: 0 for name in names} for _ in range(3))
    iou_sum = {name: 0.0 for name in names}
    matched_pred = set()
    for name, crowd, gt_mask in gt_segments:
        matched = False
        if not crowd:
            for index, (pred_name, pred_mask) in enumerate(pred_segments):
                if pred_name != name:
                    continue
                intersection = (gt_mask & pred_mask).sum()
                union = (gt_mask | pred_mask).sum() - (pred_mask & void).sum()
                if intersection / union > 0.5:
                    tp[name] += 1
                    iou_sum[name] += intersection / union
                    matched_pred.add(index)
                    matched = True
            if not matched:
                fn[name] += 1
    for index, (name, pred_mask) in enumerate(pred_segments):
        if index in matched_pred:
            continue
        ignore = void.copy()
        for gt_name, crowd, gt_mask in gt_segments:
            if crowd and gt_name == name:
                ignore |= gt_mask
        if (pred_mask & ignore).sum() / pred_mask.sum() > 0.5:
            continue
        fp[name] += 1
    return ([tp[n] for n in names], [fp[n] for n in names], [fn[n] for n in names],
            [iou_sum[n] for n in names])


def _random_case(rng, shape=(24, 32)):
    """Paint random rectangles: GT of stuff, crowds, instances and void; a perturbed prediction."""
    gt = np.full(shape, 7, np.uint16)
    gt_values = [0, 8, 11, 19, 21, 23, 24, 26, 24001, 24002, 26001, 26002, 26003, 33001, 29001]
    for _ in range(10):
        y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
        h, w = rng.integers(2, 12), rng.integers(2, 14)
        gt[y:y + h, x:x + w] = rng.choice(gt_values)
    # Prediction: the GT converted, then painted over with random segments.
    label_ids = np.where(gt >= 1000, gt // 1000, gt)
    semantic = label_sets.cityscapes_label_id_table()[label_ids]
    instances = np.where(gt >= 1000, gt % 1000 + 10 * (gt // 1000), 0).astype(np.uint16)
    pred_classes = [ROAD, CAR, PERSON, taxonomy.class_id('sidewalk'),
                    taxonomy.class_id('traffic_light'), taxonomy.class_id('bicycle'),
                    taxonomy.class_id('lane_marking'), UNLABELED]
    for _ in range(int(rng.integers(2, 9))):
        y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
        h, w = rng.integers(1, 10), rng.integers(1, 12)
        semantic[y:y + h, x:x + w] = rng.choice(pred_classes)
        instances[y:y + h, x:x + w] = rng.integers(0, 5)
    return gt, semantic, instances


@pytest.mark.parametrize('seed', range(40))
def test_equals_reference_implementation(seed):
    rng = np.random.default_rng(seed)
    gt, semantic, instances = _random_case(rng)
    counts = panoptic_eval.frame_counts(gt, semantic, instances)
    tp, fp, fn, iou_sum = _reference_counts(gt, semantic, instances)
    assert counts.tp.tolist() == tp
    assert counts.fp.tolist() == fp
    assert counts.fn.tolist() == fn
    np.testing.assert_allclose(counts.iou_sum, iou_sum, rtol=1e-12, atol=1e-12)


def test_random_cases_exercise_all_outcomes():
    totals = panoptic_eval.PanopticCounts.zeros()
    for seed in range(40):
        totals.add(panoptic_eval.frame_counts(*_random_case(np.random.default_rng(seed))))
    assert totals.frames == 40
    assert totals.tp.sum() > 0 and totals.fp.sum() > 0 and totals.fn.sum() > 0
    assert totals.tp[panoptic_eval.IS_THING].sum() > 0


def _segments(gt_ids, semantic, instances):
    """Return GT [(name, crowd, mask)], the GT void mask and predicted [(name, mask)]."""
    gt_segments, void = [], np.zeros(gt_ids.shape, bool)
    for value in np.unique(gt_ids):
        label_id = value // 1000 if value >= 1000 else value
        name = label_sets.CITYSCAPES_LABEL_ID_NAMES.get(int(label_id))
        if name is None:
            void |= gt_ids == value
            continue
        crowd = bool(value < 1000 and name in panoptic_eval.THING_NAMES)
        gt_segments.append((name, crowd, gt_ids == value))
    pred_segments = []
    for name in panoptic_eval.CLASS_NAMES:
        mask = semantic == taxonomy.class_id(name)
        if name in panoptic_eval.THING_NAMES:
            for instance in np.unique(instances[mask]):
                if instance > 0:
                    pred_segments.append((name, mask & (instances == instance)))
        elif mask.any():
            pred_segments.append((name, mask))
    return gt_segments, void, pred_segments


def _write_coco_panoptic(path, segments):
    """Write [(name, crowd, mask)] as a COCO panoptic PNG (id = R + 256 G); return its infos."""
    ids = np.zeros(segments[0][2].shape if segments else (1, 1), np.uint32)
    infos = []
    for segment_id, (name, crowd, mask) in enumerate(segments, start=1):
        ids[mask] = segment_id
        infos.append({'id': segment_id, 'iscrowd': int(crowd), 'area': int(mask.sum()),
                      'category_id': panoptic_eval.CLASS_NAMES.index(name) + 1})
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return infos


def test_equals_cityscapesscripts_pq_compute(tmp_path, capsys, monkeypatch):
    """Match the counts of cityscapesscripts' panopticapi port on the random cases."""
    monkeypatch.setenv('CITYSCAPES_DATASET', str(tmp_path))
    cs_panoptic = pytest.importorskip(
        'cityscapesscripts.evaluation.evalPanopticSemanticLabeling')
    categories = {index + 1: {'id': index + 1, 'name': name,
                              'isthing': int(name in panoptic_eval.THING_NAMES)}
                  for index, name in enumerate(panoptic_eval.CLASS_NAMES)}
    annotations = []
    ours = panoptic_eval.PanopticCounts.zeros()
    for seed in range(40):
        gt, semantic, instances = _random_case(np.random.default_rng(seed))
        ours.add(panoptic_eval.frame_counts(gt, semantic, instances))
        gt_segments, _, pred_segments = _segments(gt, semantic, instances)
        gt_infos = _write_coco_panoptic(tmp_path / f'gt_{seed}.png', gt_segments)
        pred_infos = _write_coco_panoptic(
            tmp_path / f'pred_{seed}.png', [(n, False, m) for n, m in pred_segments])
        for info in pred_infos:
            del info['iscrowd'], info['area']
        annotations.append(({'image_id': seed, 'file_name': f'gt_{seed}.png',
                             'segments_info': gt_infos},
                            {'image_id': seed, 'file_name': f'pred_{seed}.png',
                             'segments_info': pred_infos}))
    stat = cs_panoptic.pq_compute_single_core(0, annotations, str(tmp_path), str(tmp_path),
                                              categories)
    capsys.readouterr()
    for index, name in enumerate(panoptic_eval.CLASS_NAMES):
        reference = stat[index + 1]
        assert (ours.tp[index], ours.fp[index], ours.fn[index]) == (
            reference.tp, reference.fp, reference.fn), name
        assert ours.iou_sum[index] == pytest.approx(reference.iou, abs=1e-9), name
    reference_all = stat.pq_average(categories, isthing=None)[0]
    assert ours.averages()['all']['pq'] == pytest.approx(reference_all['pq'], abs=1e-12)
    assert ours.averages()['things']['pq'] == pytest.approx(
        stat.pq_average(categories, isthing=True)[0]['pq'], abs=1e-12)


def test_real_ground_truth_scores_itself_perfectly(tmp_path):
    gt_path = sample('cityscapes_samples', 'mmseg_pseudo_cityscapes',
                     'frankfurt_000000_000294_gtFine_instanceIds.png')
    gt = cv2.imread(str(gt_path), cv2.IMREAD_UNCHANGED)
    label_ids = np.where(gt >= 1000, gt // 1000, gt)
    semantic = label_sets.cityscapes_label_id_table()[label_ids]
    instances = np.where(gt >= 1000, gt % 1000 + 1, 0).astype(np.uint16)
    cv2.imwrite(str(tmp_path / 'frankfurt_000000_000294.png'), semantic)
    cv2.imwrite(str(tmp_path / 'frankfurt_000000_000294_instances.png'), instances)
    counts = panoptic_eval.evaluate_panoptic(tmp_path, gt_path.parent)
    averages = counts.averages()
    assert counts.frames == 1 and counts.fp.sum() == 0 and counts.fn.sum() == 0
    assert averages['things']['classes'] > 0 and averages['stuff']['classes'] > 0
    assert averages['all']['pq'] == pytest.approx(1.0)
