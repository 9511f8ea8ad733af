"""Segment every bag under IN_DIR on a Ray cluster into result bags under OUT_DIR.

Bags are rosbag2 folders (metadata.yaml) and single .mcap files; each result bag holds what
``process`` writes and sits at the input's relative path under OUT_DIR (a .mcap file's name
without its suffix). Each worker is a Ray actor holding one model replica, loaded once; a bag's
frames go in order through one tracker. OUT_DIR/manifest.json records per bag: input checksum,
frames, skipped frames, seconds, output and error. A rerun skips the bags whose output is
complete and whose input and settings are unchanged; outputs are written under a temporary name
and renamed when complete, so an interrupted bag is redone. A damaged bag fails alone (the
others finish); a worker that dies is replaced and its bag retried once.

Local by default (an embedded Ray cluster with --workers actors, nothing to start beforehand);
--address joins a running cluster (``ray start --head`` / ``ray start --address``), whose nodes
must see IN_DIR and OUT_DIR at the same paths. Exit 0 when no bag failed, 1 otherwise.
"""

import argparse
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import sys
import time
from typing import Callable, Dict, List, Optional

from tqdm import tqdm

from seg_perception.tools.fleet_inputs import camera_frames, plan_jobs
from seg_perception.tools.fleet_manifest import BagRecord, Manifest, settings_digest
from seg_perception.tools.fleet_worker import CRASH_ENV
from seg_perception.tools.harness import add_settings_arguments
from seg_perception.tools.process_bag import load_settings


@dataclass
class FleetSummary:
    """What a fleet run did (``--json`` prints ``as_dict()``).

    Attributes:
        bags: bags found under the input folder.
        processed: bags segmented completely in this run.
        skipped: bags left alone because their output was complete and up to date.
        failed: {'bag', 'error'} per bag that failed in this run.
        frames: camera frames segmented in this run.
        seconds: wall-clock seconds of the run (cluster start included).
        startup_seconds: of those, the seconds until every worker had loaded its model.
        workers: actors that ran.
        worker_ids: ``host:pid`` of each actor that loaded the model.

    """

    bags: int = 0
    processed: int = 0
    skipped: int = 0
    failed: List[Dict[str, str]] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0
    workers: int = 0
    worker_ids: List[str] = field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        """Frames segmented per wall-clock second of the run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_frames_per_s(self) -> float:
        """Frames per second once the workers were up (what more bags would see)."""
        busy = self.seconds - self.startup_seconds
        return self.frames / busy if busy > 0 else 0.0

    def as_dict(self) -> Dict:
        """Return the ``--json`` object."""
        return {'bags': self.bags, 'processed': self.processed, 'skipped': self.skipped,
                'failed': self.failed, 'frames': self.frames,
                'seconds': round(self.seconds, 3), 'frames_per_s': round(self.frames_per_s, 3),
                'workers': self.workers, 'startup_seconds': round(self.startup_seconds, 3),
                'steady_frames_per_s': round(self.steady_frames_per_s, 3)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``seg-perception fleet``."""
    parser.add_argument('in_dir', type=Path, help='folder searched for bags')
    parser.add_argument('out_dir', type=Path, help='folder of result bags and manifest.json')
    add_settings_arguments(parser)
    parser.add_argument('--workers', type=int, default=1,
                        help='Ray actors, each with its own model replica (default 1)')
    parser.add_argument('--address', default=None,
                        help='address of a running Ray cluster (default: start a local one)')
    parser.add_argument('--gpus-per-worker', type=float, default=0.0,
                        help='GPUs each actor reserves; fractions share a GPU (default 0)')
    parser.add_argument('--cpus-per-worker', type=int, default=0,
                        help='CPUs each actor reserves, also its torch threads (default: this '
                             "machine's cores / workers)")
    parser.add_argument('--json', action='store_true',
                        help='print the summary as one JSON object on the last line')


def run_fleet(in_dir: Path, out_dir: Path, params_file: Path, weights_dir: str = '',
              workers: int = 1, address: Optional[str] = None, gpus_per_worker: float = 0.0,
              cpus_per_worker: int = 0, show_progress: bool = True,
              on_cluster_started: Optional[Callable[[], None]] = None) -> FleetSummary:
    """Process every bag under ``in_dir`` that is not complete in ``out_dir``; see the module.

    Args:
        in_dir, out_dir, params_file, weights_dir, workers, address, gpus_per_worker,
            cpus_per_worker: as the command's arguments.
        show_progress: draw the progress bar on standard error.
        on_cluster_started: called once Ray is up (tests record the cluster's processes).

    Raises:
        FileNotFoundError: ``in_dir`` or ``params_file`` does not exist, or no bag is found.
        ValueError: bad numbers, two bags with one output, or a foreign manifest.json.
        WorkerStartError: the workers could not load the model.

    """
    from seg_perception.tools.fleet_ray import init_ray, run_jobs

    if workers < 1 or gpus_per_worker < 0 or cpus_per_worker < 0:
        raise ValueError('--workers must be >= 1 and --gpus/cpus-per-worker >= 0')
    if not Path(params_file).is_file():
        raise FileNotFoundError(f'parameter file {params_file} does not exist')
    load_settings(params_file, weights_dir)  # a bad parameter fails here, before Ray starts
    start = time.perf_counter()
    out_dir = Path(out_dir)
    jobs = plan_jobs(in_dir, out_dir)
    if not jobs:
        raise FileNotFoundError(f'no bag (a folder with metadata.yaml, or a .mcap file) under '
                                f'{in_dir}')
    manifest = Manifest(out_dir)
    digest = settings_digest(params_file, weights_dir)
    todo = [job for job in jobs if not manifest.is_complete(job, digest)]
    summary = FleetSummary(bags=len(jobs), skipped=len(jobs) - len(todo))
    manifest.save()
    if todo:
        cpus = cpus_per_worker or max(1, (os.cpu_count() or 1) // workers)
        frames = {job.bag: camera_frames(job.in_path) for job in todo}
        reporter = _Reporter(manifest, summary, start, sum(frames.values()), len(todo),
                             show_progress)
        ray = init_ray(address, max(os.cpu_count() or 1, workers * cpus))
        try:
            if on_cluster_started is not None:
                on_cluster_started()
            worker_args = dict(params_file=str(Path(params_file).resolve()),
                               weights_dir=weights_dir, torch_threads=cpus,
                               crash_on=os.environ.get(CRASH_ENV, ''))
            summary.workers = min(workers, len(todo))
            summary.worker_ids = run_jobs(
                ray, todo, frames, digest, worker_args, workers,
                dict(num_cpus=cpus, num_gpus=gpus_per_worker), reporter.on_record,
                reporter.on_progress, reporter.on_event, reporter.on_ready)
        finally:
            reporter.close()
            ray.shutdown()
    summary.seconds = time.perf_counter() - start
    return summary


class _Reporter:
    """Keeps the manifest, the summary and the progress bar up to date as bags finish."""

    def __init__(self, manifest: Manifest, summary: FleetSummary, start: float,
                 total_frames: int, total_bags: int, show_progress: bool):
        self.manifest, self.summary, self.start = manifest, summary, start
        self.total_bags = total_bags
        self.bar = tqdm(total=total_frames, unit='frame', file=sys.stderr, dynamic_ncols=True,
                        mininterval=0.5, disable=not show_progress, desc=f'{total_bags} bags')

    def on_record(self, record: BagRecord) -> None:
        """Save a finished bag's record and count it."""
        self.manifest.put(record)
        if record.error:
            self.summary.failed.append({'bag': record.bag, 'error': record.error})
            self.on_event(f'failed: {record.bag}: {record.error}')
        else:
            self.summary.processed += 1
            self.summary.frames += record.frames

    def on_progress(self, frames_done: int, bags_done: int) -> None:
        """Move the bar (frames, frames/s and ETA are tqdm's) and show the bag counts."""
        self.bar.update(min(frames_done, self.bar.total) - self.bar.n)
        self.bar.set_postfix_str(f'bags {bags_done}/{self.total_bags}, '
                                 f'failed {len(self.summary.failed)}', refresh=False)

    def on_event(self, text: str) -> None:
        """Print a line above the bar."""
        self.bar.write(text, file=sys.stderr)

    def on_ready(self, identities: List[str]) -> None:
        """Note the start-up time once every worker has its model."""
        self.summary.startup_seconds = time.perf_counter() - self.start

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


def summary_text(summary: FleetSummary, jobs_out: Path) -> str:
    """Human-readable summary of a run."""
    lines = [f'{summary.bags} bags: {summary.processed} processed, {summary.skipped} skipped '
             f'(complete), {len(summary.failed)} failed',
             f'{summary.frames} frames in {summary.seconds:.1f} s = '
             f'{summary.frames_per_s:.2f} frames/s with {summary.workers} worker(s) '
             f'({os.cpu_count()} cores here); after the {summary.startup_seconds:.1f} s '
             f'start-up (cluster, model loads): {summary.steady_frames_per_s:.2f} frames/s']
    lines += [f'  failed: {item["bag"]}: {item["error"]}' for item in summary.failed]
    lines.append(f'manifest: {jobs_out / "manifest.json"}')
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``seg-perception fleet``; 0 when no bag failed, 1 otherwise (2: nothing could run)."""
    from seg_perception.tools.fleet_ray import WorkerStartError

    try:
        summary = run_fleet(args.in_dir, args.out_dir, args.params_file, args.weights_dir,
                            args.workers, args.address, args.gpus_per_worker,
                            args.cpus_per_worker)
    except WorkerStartError as error:
        print(f'seg-perception fleet: error: {error}', file=sys.stderr)
        return 2
    print(summary_text(summary, args.out_dir))
    if args.json:
        print(json.dumps(summary.as_dict()))
    return 1 if summary.failed else 0
