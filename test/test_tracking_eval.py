"""The tracking evaluation: ground-truth parsing, the noise model, scoring, the command."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from seg_perception import paths
from seg_perception import taxonomy
from seg_perception.tools import tracking_eval as te

CAR = taxonomy.class_id('car')


@pytest.fixture
def trackeval():
    return pytest.importorskip('trackeval')


@pytest.fixture(scope='module')
def kitti_label_dir() -> Path:
    path = paths.sample_path('sequences', 'kitti_tracking_mini', 'training', 'label_02')
    if path is None:
        pytest.skip('KITTI tracking labels not found (set SEG_PERCEPTION_DATA)')
    return path


def synthetic_gt(num_frames=200, num_objects=20, occluded_every=4, seed=0):
    """Objects moving in straight lines; every ``occluded_every``-th box largely occluded."""
    rng = np.random.default_rng(seed)
    start = rng.uniform((0, 50), (1000, 250), size=(num_objects, 2))
    speed = rng.uniform(-20, 20, size=(num_objects, 2))
    size = rng.uniform((40, 30), (120, 80), size=(num_objects, 2))
    frames, ids, boxes = [], [], []
    for k in range(num_frames):
        corner = start + speed * k / 10.0
        for i in range(num_objects):
            frames.append(k)
            ids.append(i)
            boxes.append(np.concatenate((corner[i], corner[i] + size[i])))
    count = len(frames)
    return te.SequenceGT(
        name='synthetic', frames=np.array(frames), track_ids=np.array(ids),
        classes=np.full(count, CAR), boxes=np.array(boxes),
        occluded=np.arange(count) % occluded_every == 0, num_frames=num_frames, fps=10.0,
        image_size=(1242.0, 375.0))


def write_kitti(path: Path, gt: te.SequenceGT) -> Path:
    with open(path, 'w') as handle:
        for frame, track_id, box, occluded in zip(gt.frames, gt.track_ids, gt.boxes,
                                                  gt.occluded):
            handle.write(f'{frame} {track_id} Car 0 {2 if occluded else 0} 0.0 '
                         f'{box[0]:.2f} {box[1]:.2f} {box[2]:.2f} {box[3]:.2f} '
                         '1.5 1.6 3.9 1.0 1.0 10.0 0.0\n')
        handle.write(f'{gt.num_frames - 1} -1 DontCare -1 -1 -10 0 0 10 10 '
                     '-1000 -1000 -1000 -10 -1 -1 -1\n')
    return path


def test_kitti_parsing_on_the_real_file(kitti_label_dir):
    gt = te.read_kitti_labels(kitti_label_dir / '0001.txt')
    assert gt.name == '0001' and gt.num_frames == 447 and gt.fps == 10.0
    counts = {name: int((gt.classes == taxonomy.class_id(name)).sum())
              for name in ('car', 'truck', 'person', 'rider')}
    # PROVENANCE: Car 2681, Van 140, Truck 77, Pedestrian 112; Misc and DontCare dropped.
    assert counts == {'car': 2681 + 140, 'truck': 77, 'person': 112, 'rider': 0}
    assert gt.boxes.shape == (gt.frames.shape[0], 4)
    assert (gt.boxes[:, 2:] >= gt.boxes[:, :2]).all()
    frame10 = gt.frames == 10
    assert sorted(gt.track_ids[frame10 & (gt.classes == CAR)].tolist()) == [
        1, 2, 3, 4, 5, 6, 94, 95, 97]
    assert gt.image_size[0] == pytest.approx(1242.0, abs=2.0)
    assert 0 < gt.occluded.sum() < gt.occluded.size


def test_find_kitti_sequences(kitti_label_dir, tmp_path):
    root = kitti_label_dir.parents[1]  # .../kitti_tracking_mini, two levels above label_02
    assert [p.stem for p in te.find_kitti_sequences(root)] == ['0001']
    assert te.find_kitti_sequences(kitti_label_dir, ['0001'])[0].name == '0001.txt'
    with pytest.raises(FileNotFoundError):
        te.find_kitti_sequences(kitti_label_dir, ['9999'])
    with pytest.raises(FileNotFoundError):
        te.find_kitti_sequences(tmp_path)


def test_mot_gt_parsing(tmp_path):
    seq = tmp_path / 'MOT17-02' / 'gt'
    seq.mkdir(parents=True)
    (tmp_path / 'MOT17-02' / 'seqinfo.ini').write_text(
        '[Sequence]\nname=MOT17-02\nframeRate=30\nseqLength=3\nimWidth=1920\nimHeight=1080\n')
    (seq / 'gt.txt').write_text(
        '1,1,10,20,30,60,1,1,1.0\n'
        '2,1,12,20,30,60,1,1,0.1\n'
        '2,2,500,20,30,60,0,1,1.0\n'  # conf 0: ignored
        '3,3,700,20,50,40,1,3,1.0\n')  # a car: not in MOT's pedestrian protocol
    gt = te.read_mot_gt(seq / 'gt.txt')
    assert gt.name == 'MOT17-02' and gt.fps == 30.0 and gt.num_frames == 3
    assert gt.image_size == (1920.0, 1080.0)
    assert gt.frames.tolist() == [0, 1] and gt.track_ids.tolist() == [1, 1]
    assert gt.boxes[1].tolist() == [12.0, 20.0, 42.0, 80.0]
    assert gt.occluded.tolist() == [False, True]
    assert (gt.classes == taxonomy.class_id('person')).all()


def test_noise_model_is_seeded_and_has_the_configured_rates():
    gt = synthetic_gt()
    noise = te.NoiseConfig()
    frames = te.make_detections(gt, noise, np.random.default_rng(5))
    again = te.make_detections(gt, noise, np.random.default_rng(5))
    assert all(np.array_equal(a.boxes, b.boxes) for a, b in zip(frames, again))
    assert len(frames) == gt.num_frames

    rows = np.concatenate([f.gt_rows for f in frames])
    boxes = np.concatenate([f.boxes for f in frames])
    scores = np.concatenate([f.scores for f in frames])
    true = rows >= 0
    detected = np.zeros(gt.frames.shape[0], dtype=bool)
    detected[rows[true]] = True
    miss_clear = 1.0 - detected[~gt.occluded].mean()
    miss_occluded = 1.0 - detected[gt.occluded].mean()
    assert miss_clear == pytest.approx(0.10, abs=0.02)
    assert miss_occluded == pytest.approx(0.40, abs=0.04)
    false_per_frame = (~true).sum() / gt.num_frames
    assert false_per_frame == pytest.approx(1.0, abs=0.2)
    assert scores[true].min() >= 0.5 and scores[true].max() <= 1.0
    assert scores[~true].min() >= 0.1 and scores[~true].max() <= 0.6

    # Edge jitter: std of each edge's shift over the box size ~ 0.05.
    source = gt.boxes[rows[true]]
    size = source[:, 2:] - source[:, :2]
    shift = (boxes[true] - source) / np.concatenate((size, size), axis=1)
    assert shift.std(axis=0) == pytest.approx([0.05] * 4, abs=0.005)
    # False boxes lie inside the image and have sizes of labelled boxes.
    false_boxes = boxes[~true]
    assert (false_boxes[:, :2] >= 0).all()
    assert (false_boxes[:, 2] <= 1242.0).all() and (false_boxes[:, 3] <= 375.0).all()


def test_perfect_detections_are_the_ground_truth():
    gt = synthetic_gt(num_frames=5, num_objects=3)
    frames = te.make_detections(gt, te.NoiseConfig.perfect(), np.random.default_rng(0))
    for frame in frames:
        assert np.array_equal(frame.boxes, gt.boxes[frame.gt_rows])
        assert (frame.scores == 1.0).all()


def test_perfect_detector_scores_perfectly_on_synthetic_sequence(tmp_path, trackeval):
    label_dir = tmp_path / 'label_02'
    label_dir.mkdir()
    write_kitti(label_dir / '0042.txt', synthetic_gt(num_frames=60, num_objects=12))
    result = te.evaluate_tracking(label_dir, noise=te.NoiseConfig.perfect(), peer=False,
                                  bench_objects=0)
    ours = result['trackers'][te.OURS]
    assert result['sequences'] == ['0042']
    assert ours['IDF1'] == pytest.approx(100.0)
    assert ours['IDSW'] == 0
    assert ours['MOTA'] == pytest.approx(100.0)
    assert ours['IDs'] == 12


def test_perfect_detector_on_kitti_0001(kitti_label_dir, trackeval):
    result = te.evaluate_tracking(kitti_label_dir, sequences=['0001'],
                                  noise=te.NoiseConfig.perfect(), peer=False, bench_objects=0)
    ours = result['trackers'][te.OURS]
    # One switch remains: in frame 108 a car leaving the image is labelled 1 px wide.
    assert ours['IDSW'] <= 1
    assert ours['IDF1'] > 99.5
    assert ours['FP'] == 0


def test_trackeval_data_and_scores_by_hand(trackeval):
    gt = synthetic_gt(num_frames=4, num_objects=2)
    rows = [np.flatnonzero(gt.frames == k) for k in range(4)]
    # Object 0 keeps id 7; object 1 switches from id 8 to 9 after frame 1.
    outputs = [te.TrackerOutput(boxes=gt.boxes[r], ids=np.array([7, 8 if k < 2 else 9]))
               for k, r in enumerate(rows)]
    scores = te.score([te.trackeval_data(gt, outputs)])
    assert scores['IDSW'] == 1
    assert scores['MOTA'] == pytest.approx(100.0 * (1 - 1 / 8))
    assert scores['IDF1'] == pytest.approx(100.0 * 6 / 8)
    assert scores['FP'] == 0 and scores['FN'] == 0


def test_benchmark_prints_numbers():
    timing = te.benchmark(num_objects=10, num_frames=20, peer=False, repeats=1)
    assert timing['objects'] == 10.0
    assert 0.0 < timing[te.OURS] < 100.0


def test_command_on_kitti_0001_beats_bytetrack(kitti_label_dir, capsys, trackeval):
    pytest.importorskip('supervision')
    code = te.main(['--kitti-labels', str(kitti_label_dir), '--sequences', '0001',
                    '--bench-objects', '0', '--peers', te.PEER, '--json'])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith(te.OURS) for line in lines)
    result = json.loads(lines[-1])
    ours, peer = result['trackers'][te.OURS], result['trackers'][te.PEER]
    assert ours['IDF1'] >= peer['IDF1']
    assert ours['HOTA'] >= peer['HOTA']


def test_command_needs_ground_truth():
    with pytest.raises(ValueError):
        te.main([])


PERSON = taxonomy.class_id('person')


def two_class_gt():
    """Two cars and one pedestrian over 4 frames, each moving slowly right."""
    frames, ids, classes, boxes = [], [], [], []
    for k in range(4):
        for track_id, class_id, x in ((1, CAR, 100.0), (2, CAR, 300.0), (3, PERSON, 600.0)):
            frames.append(k)
            ids.append(track_id)
            classes.append(class_id)
            boxes.append((x + 5 * k, 50.0, x + 5 * k + 40.0, 130.0))
    count = len(frames)
    return te.SequenceGT(
        name='two_class', frames=np.array(frames), track_ids=np.array(ids),
        classes=np.array(classes), boxes=np.array(boxes), occluded=np.zeros(count, bool),
        num_frames=4, fps=10.0, image_size=(1242.0, 375.0))


@pytest.mark.timeout(60)
def test_per_class_scores_count_each_class_on_its_own(trackeval):
    gt = two_class_gt()
    outputs = []
    for k in range(4):
        rows = np.flatnonzero(gt.frames == k)
        # The cars keep ids 10 and 11; the pedestrian switches from 12 to 13 after frame 1.
        outputs.append(te.TrackerOutput(boxes=gt.boxes[rows],
                                        ids=np.array([10, 11, 12 if k < 2 else 13]),
                                        classes=gt.classes[rows]))
    scores = te.sequence_scores(gt, outputs)
    assert set(scores) == {'all', 'Car', 'Pedestrian', 'Cyclist'}
    by_class = te.score_classes({name: [scores[name]] for name in ('Car', 'Pedestrian')})
    assert by_class['Car']['IDSW'] == 0 and by_class['Car']['IDF1'] == pytest.approx(100.0)
    assert by_class['Pedestrian']['IDSW'] == 1
    # 2 of the pedestrian's 4 boxes carry its best-matching id: IDF1 = 2 * 2 / (4 + 4).
    assert by_class['Pedestrian']['IDF1'] == pytest.approx(50.0)
    assert by_class['Pedestrian']['IDs'] == 2
    # Class average as trackeval: figures averaged over the classes, switches summed.
    average = by_class['class_average']
    assert average['IDSW'] == 1
    assert average['IDF1'] == pytest.approx(75.0)
    assert average['HOTA'] == pytest.approx(
        (by_class['Car']['HOTA'] + by_class['Pedestrian']['HOTA']) / 2.0)
    # All classes together: 12 boxes, 10 on the best-matching id.
    everything = te.combine([scores['all']])
    assert everything['IDSW'] == 1
    assert everything['IDF1'] == pytest.approx(100.0 * 10 / 12)
    # Per-class scoring needs the classes of the tracked boxes.
    with pytest.raises(ValueError):
        te.trackeval_data(gt, [te.TrackerOutput(o.boxes, o.ids) for o in outputs],
                          np.array([CAR]))


@pytest.mark.timeout(60)
def test_best_peer_per_figure():
    best = te.best_of({
        'a': {'HOTA': 60.0, 'IDF1': 80.0, 'IDSW': 10, 'IDs': 5},
        'b': {'HOTA': 62.0, 'IDF1': 75.0, 'IDSW': 12, 'IDs': 9}})
    assert best['HOTA'] == {'tracker': 'b', 'value': 62.0}
    assert best['IDF1'] == {'tracker': 'a', 'value': 80.0}
    assert best['IDSW'] == {'tracker': 'a', 'value': 10}  # fewer is better
    assert 'IDs' not in best


@pytest.mark.timeout(120)
@pytest.mark.parametrize('peer', te.PEERS)
def test_every_peer_tracks_perfect_detections(peer, trackeval):
    if peer == te.PEER:
        pytest.importorskip('supervision')
    else:
        pytest.importorskip('trackers')
    gt = synthetic_gt(num_frames=30, num_objects=6, occluded_every=1000)
    frames = te.make_detections(gt, te.NoiseConfig.perfect(), np.random.default_rng(0))
    runners, notes = te.peer_runners([peer])
    assert not notes
    outputs = runners[peer](frames, gt.fps)
    assert len(outputs) == gt.num_frames
    assert all(o.classes is not None and (o.ids >= 1).all() for o in outputs)
    scores = te.combine([te.sequence_scores(gt, outputs)['all']])
    # Perfect, well separated boxes: a few first frames before confirmation, no switch.
    assert scores['IDSW'] == 0
    assert scores['IDF1'] > 85.0
    assert scores['FP'] == 0


def test_unknown_peer_is_an_error():
    with pytest.raises(ValueError):
        te.peer_runners(['no_such_tracker'])


@pytest.mark.timeout(300)
def test_evaluate_sequences_reports_per_class_per_sequence_and_best_peer(tmp_path, trackeval):
    pytest.importorskip('supervision')
    label_dir = tmp_path / 'label_02'
    label_dir.mkdir()
    for name, seed in (('0001', 1), ('0002', 2)):
        write_kitti(label_dir / f'{name}.txt', synthetic_gt(num_frames=30, num_objects=5,
                                                            seed=seed))
    result = te.evaluate_tracking(label_dir, bench_objects=0, peers=[te.PEER])
    assert set(result['per_sequence']) == {'0001', '0002'}
    assert set(result['trackers']) == {te.OURS, te.PEER}
    # The labels are all cars: Car has figures, the class average is the Car figures.
    ours = result['per_class'][te.OURS]
    assert ours['Car']['HOTA'] == pytest.approx(ours['class_average']['HOTA'])
    assert result['best_peer']['overall']['HOTA']['tracker'] == te.PEER
    assert set(result['best_peer']['per_sequence']) == {'0001', '0002'}
    table = te.format_table(result)
    assert 'class Car:' in table and 'best peer' in table and 'per sequence' in table


@pytest.mark.timeout(300)
def test_settings_selection_leave_one_out(trackeval):
    from seg_perception.tools.tracking_eval import settings_selection as selection
    gts = [dataclasses.replace(synthetic_gt(num_frames=30, num_objects=6, seed=seed),
                               name=f'{seed:04d}') for seed in range(3)]
    space = {'last_observation_iou': (0.0, 0.3), 'person_acceleration': (1.0, 2.0)}
    configs = selection.candidates(space)
    assert len(configs) == 4
    config = configs['last_observation_iou=0.3,person_acceleration=2.0']
    assert config.last_observation_iou == 0.3
    assert dict(config.class_settings)['person'].acceleration == 2.0
    result = selection.select_settings(gts, space=space, peer=False)
    assert [fold['held_out'] for fold in result['folds']] == [['0000'], ['0001'], ['0002']]
    assert sum(result['chosen_counts'].values()) == 3
    spread = result['held_out_HOTA']
    assert spread['min'] <= spread['mean'] <= spread['max']
    assert result['chosen_on_all'] in configs
    assert 'held-out HOTA' in selection.format_selection(result)
    # Several seeds: a fold holds a sequence out under every seed.
    two = selection.select_settings(gts, space={'last_observation_iou': (0.0, 0.3)},
                                    peer=False, seeds=[0, 1])
    assert [fold['held_out'] for fold in two['folds']] == [
        ['0000@0', '0000@1'], ['0001@0', '0001@1'], ['0002@0', '0002@1']]
    assert selection.make_folds(['c', 'a', 'b', 'd'], 2) == [['a', 'c'], ['b', 'd']]
    with pytest.raises(ValueError):
        selection.make_folds(['a'], 2)
