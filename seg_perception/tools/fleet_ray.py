"""Run bag jobs on Ray actors: one ``BagWorker`` per worker, a dead worker replaced once per bag.

The scheduler hands each idle actor the largest bag left (the long ones start first, so the last
bags to finish are short), records every finished bag at once, and polls the busy actors for
their frame counts to drive the progress bar. An actor that dies (its process exits, its node
goes away) is replaced by a new one and its bag is retried once; a second death fails the bag.
"""

from collections import deque
import os
from pathlib import Path
from typing import Callable, Dict, List, Optional

from seg_perception.tools.fleet_inputs import BagJob
from seg_perception.tools.fleet_manifest import BagRecord, utc_now
from seg_perception.tools.fleet_worker import BagWorker

#: How often the scheduler wakes to poll progress when no bag finished, seconds.
POLL_S = 0.5

#: Attempts per bag: the first, and one retry after its worker died.
MAX_ATTEMPTS = 2


class WorkerStartError(RuntimeError):
    """No worker could load the model (bad parameter file, missing weights, ...)."""


def init_ray(address: Optional[str], num_cpus: int, object_store_mb: int = 256):
    """Start an embedded local Ray cluster, or connect to ``address``; return the ray module.

    The local cluster has ``num_cpus`` logical CPUs, no dashboard and a small object store
    (only job descriptions and records travel through it). Its workers see this checkout's
    ``seg_perception`` first on ``PYTHONPATH``.
    """
    import ray

    options = dict(include_dashboard=False, log_to_driver=False, configure_logging=True,
                   logging_level='warning')
    if address:
        ray.init(address=address, **options)
        return ray
    package_root = str(Path(__file__).resolve().parents[2])
    saved = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = os.pathsep.join(p for p in (package_root, saved) if p)
    try:
        ray.init(num_cpus=num_cpus, object_store_memory=object_store_mb << 20, **options)
    finally:
        if saved is None:
            del os.environ['PYTHONPATH']
        else:
            os.environ['PYTHONPATH'] = saved
    return ray


def last_line(error: BaseException) -> str:
    """Return the last non-empty line of an error's text (a remote error's own message)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _failed_record(job: BagJob, digest: str, attempt: int, error: str) -> BagRecord:
    return BagRecord(bag=job.bag, output=None, input_fingerprint=job.fingerprint,
                     settings_digest=digest, attempts=attempt, finished=utc_now(), error=error)


def run_jobs(ray, jobs: List[BagJob], frames: Dict[str, int], digest: str, worker_args: Dict,
             workers: int, actor_options: Dict, on_record: Callable[[BagRecord], None],
             on_progress: Callable[[int, int], None], on_event: Callable[[str], None],
             on_ready: Callable[[List[str]], None] = lambda identities: None) -> List[str]:
    """Process ``jobs`` on ``workers`` actors; call ``on_record`` once per bag as it ends.

    Args:
        ray: the initialised ray module.
        jobs: the bags to process.
        frames: bag -> camera frames its metadata announces (for ordering and progress).
        digest: settings digest written into each record.
        worker_args: keyword arguments of ``BagWorker``.
        workers: actors to run at once.
        actor_options: Ray options of each actor (num_cpus, num_gpus, ...).
        on_record: called with each bag's final record (done or failed).
        on_progress: called with (announced frames of finished bags + frames done in running
            bags, bags finished) whenever the scheduler wakes.
        on_event: called with a line about a replaced worker.
        on_ready: called with the workers' ``host:pid`` once every model is loaded.

    Returns:
        the ``host:pid`` of every actor that loaded the model.

    Raises:
        WorkerStartError: the first workers could not load the model.

    """
    from ray.exceptions import RayActorError, RayError

    remote = ray.remote(BagWorker).options(max_concurrency=2, max_restarts=0, **actor_options)
    actors = [remote.remote(**worker_args) for _ in range(min(workers, len(jobs)))]
    try:
        identities = ray.get([actor.ready.remote() for actor in actors])
    except RayError as error:
        raise WorkerStartError(f'the workers could not load the model: {last_line(error)}') \
            from error
    on_ready(identities)
    queue = deque((job, 1) for job in sorted(jobs, key=lambda j: (-frames.get(j.bag, 0), j.bag)))
    idle, running = list(actors), {}
    finished_frames, finished_bags = 0, 0
    while queue or running:
        while idle and queue:
            actor = idle.pop()
            job, attempt = queue.popleft()
            running[actor.process.remote(job, digest, attempt)] = (actor, job, attempt)
        done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
        for ref in done:
            actor, job, attempt = running.pop(ref)
            try:
                record = BagRecord(**ray.get(ref))
                idle.append(actor)
            except RayActorError as error:
                ray.kill(actor)
                replacement = remote.remote(**worker_args)
                idle.append(replacement)
                reason = last_line(error)
                if attempt < MAX_ATTEMPTS:
                    on_event(f'worker died while processing {job.bag} ({reason}); replaced, '
                             'retrying the bag')
                    queue.appendleft((job, attempt + 1))
                    continue
                record = _failed_record(job, digest, attempt, f'its worker died on each of '
                                        f'{attempt} attempts ({reason})')
            except RayError as error:  # a task error that is not a death: record, go on
                idle.append(actor)
                record = _failed_record(job, digest, attempt,
                                        f'worker error: {type(error).__name__}: '
                                        f'{last_line(error)}')
            finished_frames += frames.get(job.bag, 0)
            finished_bags += 1
            on_record(record)
        on_progress(finished_frames + _frames_in_flight(ray, running), finished_bags)
    for actor in idle:
        ray.kill(actor)
    return identities


def _frames_in_flight(ray, running: Dict) -> int:
    """Return the frames done so far in the bags being processed (dead actors count 0)."""
    from ray.exceptions import RayError

    if not running:
        return 0
    asked = {actor.progress.remote(): job.bag for actor, job, _ in running.values()}
    answered, _ = ray.wait(list(asked), num_returns=len(asked), timeout=POLL_S / 2)
    total = 0
    for ref in answered:
        try:
            bag, done = ray.get(ref)
        except RayError:
            continue
        total += done if bag == asked[ref] else 0
    return total
