"""fleet: bags found under a folder, processed on a real local Ray cluster, resumable.

The Ray tests start an embedded cluster (2 logical CPUs) with the real ESPNetv2 network at
256x128 on tiny bags (3 frames of 160x120) that make-bag wrote, plus damaged ones.
"""

import json
import os
from pathlib import Path
import shutil
import time

from bag_damage import drop_message_counts, make_small_bag, small_frames, truncate
import numpy as np
from params_files import write_espnetv2_params
import pytest

from seg_perception.ros import bag_io, result_bag
from seg_perception.tools import cli
from seg_perception.tools.fleet import run_fleet
from seg_perception.tools.fleet_inputs import checksum, find_bags, plan_jobs
from seg_perception.tools.fleet_manifest import BagRecord, Manifest, settings_digest
from seg_perception.tools.fleet_worker import BagWorker, CRASH_ENV
from seg_perception.tools.process_bag import partial_path

GOOD = ('day1/cam_a', 'day1/cam_b', 'day2/run.mcap')
BROKEN = ('broken/no_counts', 'broken/cut.mcap')


def _process_tree(root: int) -> dict:
    """Return pid -> command name of every live descendant of ``root`` (from /proc)."""
    parents = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if fields[0] != 'Z':
                parents[int(entry.name)] = int(fields[1])
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = (Path('/proc') / str(pid) / 'comm').read_text().strip() \
                    if (Path('/proc') / str(pid)).exists() else '?'
                frontier.append(pid)
    return found


def left_running(pids, grace_s: float = 20.0) -> dict:
    """Return {pid: name} of ``pids`` still running after up to ``grace_s`` seconds.

    ``ray.shutdown()`` stops the GCS server and the raylet; their worker and agent processes
    notice and exit on their own a moment later (longer on a loaded machine).
    """
    deadline = time.monotonic() + grace_s
    while True:
        running = {pid: name for pid, name in pids.items() if alive(pid)}
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.2)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        state = (Path('/proc') / str(pid) / 'stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'


@pytest.fixture(scope='module')
def fleet_in(tmp_path_factory) -> Path:
    """Input folder: 3 good bags (sqlite3 folder, mcap folder, single .mcap) and 2 broken."""
    root = tmp_path_factory.mktemp('fleet')
    frames_a = small_frames(root / 'frames_a', 3, 0)
    frames_b = small_frames(root / 'frames_b', 3, 10)
    in_dir = root / 'in'
    make_small_bag(frames_a, in_dir / 'day1' / 'cam_a', 'sqlite3')
    make_small_bag(frames_b, in_dir / 'day1' / 'cam_b', 'mcap', compressed=True)
    single = make_small_bag(frames_a, root / 'single', 'mcap')
    (in_dir / 'day2').mkdir()
    shutil.copy(next(single.glob('*.mcap')), in_dir / 'day2' / 'run.mcap')
    broken = make_small_bag(frames_b, in_dir / 'broken' / 'no_counts', 'sqlite3')
    drop_message_counts(broken)
    shutil.copy(next(single.glob('*.mcap')), in_dir / 'broken' / 'cut.mcap')
    truncate(in_dir / 'broken' / 'cut.mcap')
    return in_dir


@pytest.fixture(scope='module')
def small_params(tmp_path_factory) -> Path:
    """Parameter file: ESPNetv2 at 256x128 on the CPU."""
    return write_espnetv2_params(tmp_path_factory.mktemp('params') / 'small.yaml', 256, 128)


def copy_inputs(fleet_in: Path, target: Path, bags=GOOD + BROKEN) -> Path:
    """Copy some bags of the input folder (keeping their layout) to ``target``."""
    for bag in bags:
        source, destination = fleet_in / bag, target / bag
        destination.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, destination)
    return target


def semantic_stamps(bag: Path):
    """Return the stamps and (H, W) class maps of a result bag's semantic topic."""
    maps = result_bag.semantic_maps(bag)
    return [stamp for stamp, _ in maps], [labels for _, labels in maps]


def test_find_bags_and_plan_mirror_the_layout(tmp_path, fleet_in):
    assert [p.relative_to(fleet_in).as_posix() for p in find_bags(fleet_in)] == sorted(
        GOOD + BROKEN)
    jobs = {job.bag: job for job in plan_jobs(fleet_in, tmp_path / 'out')}
    assert jobs['day2/run.mcap'].out_path == tmp_path / 'out' / 'day2' / 'run'
    assert jobs['day1/cam_a'].out_path == tmp_path / 'out' / 'day1' / 'cam_a'
    # the output folder inside the input folder, and hidden partial folders, are not searched
    inside = copy_inputs(fleet_in, tmp_path / 'in', GOOD[:1])
    shutil.copytree(inside / 'day1' / 'cam_a', inside / 'out' / 'day1' / 'cam_a')
    shutil.copytree(inside / 'day1' / 'cam_a', inside / '.cam_x.partial' / 'cam_x')
    assert [j.bag for j in plan_jobs(inside, inside / 'out')] == ['day1/cam_a']
    shutil.copytree(inside / 'day1' / 'cam_a', inside / 'day1' / 'twin')
    shutil.copy(next((inside / 'day1' / 'cam_a').glob('*.db3')), inside / 'day1' / 'twin.mcap')
    with pytest.raises(ValueError, match='would both write'):
        plan_jobs(inside, tmp_path / 'o2')


def test_fleet_usage_errors_exit_2_before_ray_starts(tmp_path, small_params, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['fleet', '--help'])
    assert exit_info.value.code == 0 and '--gpus-per-worker' in capsys.readouterr().out
    (tmp_path / 'empty').mkdir()
    for in_dir, reason in ((tmp_path / 'missing', 'does not exist'),
                           (tmp_path / 'empty', 'no bag')):
        assert cli.main(['fleet', str(in_dir), str(tmp_path / 'out'),
                         '--params-file', str(small_params)]) == 2
        assert reason in capsys.readouterr().err
    assert cli.main(['fleet', str(tmp_path / 'empty'), str(tmp_path / 'out'),
                     '--params-file', str(small_params), '--workers', '0']) == 2
    assert '--workers must be >= 1' in capsys.readouterr().err
    assert not {'raylet', 'gcs_server'} & set(_process_tree(os.getpid()).values())


def test_manifest_resume_rules(tmp_path, fleet_in, small_params):
    inputs = copy_inputs(fleet_in, tmp_path / 'in', GOOD[:1])
    job = plan_jobs(inputs, tmp_path / 'out')[0]
    digest = settings_digest(small_params, '/w')
    manifest = Manifest(tmp_path / 'out')
    assert not manifest.is_complete(job, digest)
    shutil.copytree(job.in_path, job.out_path)  # stands in for a result bag
    record = BagRecord(bag=job.bag, output=job.output, input_checksum=checksum(job.in_path),
                       input_fingerprint=job.fingerprint, settings_digest=digest, frames=3)
    manifest.put(record)
    reloaded = Manifest(tmp_path / 'out')
    assert reloaded.records[job.bag] == record and reloaded.is_complete(job, digest)
    assert not reloaded.is_complete(job, settings_digest(small_params, '/other'))
    # same content, new mtime: the checksum decides, the fingerprint is refreshed
    storage = next(job.in_path.glob('*.db3'))
    os.utime(storage, ns=(1, 1))
    moved = plan_jobs(inputs, tmp_path / 'out')[0]
    assert moved.fingerprint != job.fingerprint and reloaded.is_complete(moved, digest)
    assert reloaded.records[job.bag].input_fingerprint == moved.fingerprint
    # changed content, or a failed record, or a missing output: redo
    with open(storage, 'ab') as stream:
        stream.write(b'\0')
    assert not reloaded.is_complete(plan_jobs(inputs, tmp_path / 'out')[0], digest)
    reloaded.put(BagRecord(bag=job.bag, output=None, error='bad', settings_digest=digest))
    assert not reloaded.is_complete(job, digest)
    (tmp_path / 'out' / 'manifest.json').write_text('{"version": 99}')
    with pytest.raises(ValueError, match='not a fleet manifest'):
        Manifest(tmp_path / 'out')


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_worker_without_ray_records_good_and_broken_bags(tmp_path, fleet_in, small_params,
                                                         espnetv2_weights_dir):
    worker = BagWorker(str(small_params), str(espnetv2_weights_dir), torch_threads=1)
    jobs = {job.bag: job for job in plan_jobs(fleet_in, tmp_path / 'out')}
    good = worker.process(jobs['day1/cam_a'], 'digest')
    assert (good['frames'], good['skipped_frames'], good['error']) == (3, 0, None)
    assert good['input_checksum'] == checksum(fleet_in / 'day1' / 'cam_a')
    assert bag_io.is_bag(tmp_path / 'out' / 'day1' / 'cam_a')
    broken = worker.process(jobs['broken/cut.mcap'], 'digest')
    assert broken['output'] is None and 'File end magic is invalid' in broken['error']
    assert not (tmp_path / 'out' / 'broken').exists()
    assert worker.progress() == ('', 0)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_fleet_two_workers_isolate_failures_and_resume(tmp_path, fleet_in, small_params,
                                                       espnetv2_weights_dir, capsys):
    inputs = copy_inputs(fleet_in, tmp_path / 'in')
    out = tmp_path / 'out'
    cluster = {}

    def record_cluster() -> None:
        cluster.update(_process_tree(os.getpid()))

    summary = run_fleet(inputs, out, small_params, str(espnetv2_weights_dir), workers=2,
                        show_progress=False, on_cluster_started=record_cluster)
    # Ray ran (a GCS server and a raylet were children of this process) and is gone again
    assert {'gcs_server', 'raylet'} <= set(cluster.values()), cluster
    assert not left_running(cluster), 'Ray processes left running'
    assert len(set(summary.worker_ids)) == summary.workers == 2

    assert (summary.bags, summary.processed, summary.skipped) == (5, 3, 0)
    assert summary.frames == 9
    failed = {item['bag']: item['error'] for item in summary.failed}
    assert set(failed) == set(BROKEN)
    assert 'topics_with_message_count' in failed['broken/no_counts']
    assert 'File end magic is invalid' in failed['broken/cut.mcap']
    manifest = json.loads((out / 'manifest.json').read_text())['bags']
    assert set(manifest) == set(GOOD + BROKEN)  # zero lost: every bag has a record
    for bag in GOOD:
        record = manifest[bag]
        assert record['error'] is None and record['frames'] == 3
        assert record['input_checksum'] == checksum(inputs / bag)
        stamps, _ = semantic_stamps(out / record['output'])
        with bag_io.open_reader(inputs / bag) as reader:
            assert len(stamps) == 3 == sum(c.msgcount for c in reader.connections)
    assert manifest['day2/run.mcap']['output'] == 'day2/run'
    assert all(manifest[bag]['output'] is None for bag in BROKEN)
    assert not (out / 'broken').exists()

    # the same frames as `process` gives, bag by bag (fresh trackers per bag)
    assert cli.main(['process', str(inputs / 'day1' / 'cam_b'), str(tmp_path / 'single'),
                     '--params-file', str(small_params),
                     '--weights-dir', str(espnetv2_weights_dir)]) == 0
    fleet_stamps, fleet_maps = semantic_stamps(out / 'day1' / 'cam_b')
    single_stamps, single_maps = semantic_stamps(tmp_path / 'single')
    assert fleet_stamps == single_stamps
    for fleet_map, single_map in zip(fleet_maps, single_maps):
        np.testing.assert_array_equal(fleet_map, single_map)
    capsys.readouterr()

    # resume: cam_b was cut off mid-write (partial folder, no output), run.mcap was copied
    # (new mtime, same bytes), cam_a is untouched -> only cam_b (and the broken ones) run again
    shutil.rmtree(out / 'day1' / 'cam_b')
    stale = partial_path(out / 'day1' / 'cam_b')
    shutil.copytree(inputs / 'day1' / 'cam_b', stale)
    shutil.copy(inputs / 'day2' / 'run.mcap', tmp_path / 'run.mcap')
    shutil.copy(tmp_path / 'run.mcap', inputs / 'day2' / 'run.mcap')
    before = (out / 'day1' / 'cam_a' / 'metadata.yaml').stat().st_mtime_ns
    assert cli.main(['fleet', str(inputs), str(out), '--params-file', str(small_params),
                     '--weights-dir', str(espnetv2_weights_dir), '--workers', '1',
                     '--json']) == 1
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) >= {'bags', 'processed', 'skipped', 'failed', 'frames', 'seconds',
                           'frames_per_s', 'workers'}
    assert (result['bags'], result['processed'], result['skipped']) == (5, 1, 2)
    assert result['frames'] == 3 and result['workers'] == 1
    assert sorted(item['bag'] for item in result['failed']) == sorted(BROKEN)
    assert not stale.parent.exists() and bag_io.is_bag(out / 'day1' / 'cam_b')
    assert semantic_stamps(out / 'day1' / 'cam_b')[0] == fleet_stamps
    assert (out / 'day1' / 'cam_a' / 'metadata.yaml').stat().st_mtime_ns == before


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fleet_replaces_a_dead_worker_and_retries_its_bag(tmp_path, fleet_in, small_params,
                                                          espnetv2_weights_dir, monkeypatch):
    inputs = copy_inputs(fleet_in, tmp_path / 'in', GOOD[:2])
    out = tmp_path / 'out'
    monkeypatch.setenv(CRASH_ENV, 'day1/cam_a')  # its worker exits on the first attempt
    summary = run_fleet(inputs, out, small_params, str(espnetv2_weights_dir), workers=2,
                        show_progress=False)
    assert (summary.processed, summary.failed, summary.frames) == (2, [], 6)
    manifest = json.loads((out / 'manifest.json').read_text())['bags']
    assert manifest['day1/cam_a']['attempts'] == 2 and manifest['day1/cam_b']['attempts'] == 1
    assert manifest['day1/cam_a']['worker'] not in summary.worker_ids  # the replacement did it
    assert len(semantic_stamps(out / 'day1' / 'cam_a')[0]) == 3


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_fleet_workers_that_cannot_load_the_model_end_the_run(tmp_path, fleet_in, capsys):
    """No weights and no download: one line, exit 2, no manifest record, Ray stopped."""
    params = tmp_path / 'no_weights.yaml'
    params.write_text('/**:\n  ros__parameters:\n    input_width: 256\n    input_height: 128\n'
                      '    device: cpu\n    allow_download: false\n')
    empty = tmp_path / 'empty'
    empty.mkdir()
    inputs = copy_inputs(fleet_in, tmp_path / 'in', GOOD[:1])
    assert cli.main(['fleet', str(inputs), str(tmp_path / 'out'), '--params-file', str(params),
                     '--weights-dir', str(empty), '--workers', '2']) == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    assert err.strip().splitlines()[-1].startswith(
        'seg-perception fleet: error: the workers could not load the model: ')
    assert json.loads((tmp_path / 'out' / 'manifest.json').read_text())['bags'] == {}
    ray_processes = {pid: name for pid, name in _process_tree(os.getpid()).items()
                     if name in ('raylet', 'gcs_server') or name.startswith('ray::')}
    assert not left_running(ray_processes, grace_s=20.0)
