"""The bags of a fleet run: find them under a folder, map them to outputs, fingerprint them.

A bag is a folder holding ``metadata.yaml`` (rosbag2, any storage; its files are not searched
further) or a single ``.mcap`` file outside such a folder. Hidden folders (``.name``, where
``process`` writes partial outputs) and the output folder itself are never searched.
"""

from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
from typing import List, Optional

from seg_perception.ros import bag_io

#: Single files taken as bags when they are not inside a rosbag2 folder.
SINGLE_FILE_SUFFIX = '.mcap'

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class BagJob:
    """One input bag and where its result goes.

    Attributes:
        bag: the bag's path relative to the input folder, POSIX style (the manifest key).
        in_path: the bag folder or ``.mcap`` file.
        out_path: the result bag folder: ``OUT_DIR/<bag>``, a ``.mcap`` file's suffix dropped.
        size_bytes: total size of the bag's files, bytes.
        fingerprint: cheap identity of the input (names, sizes, modification times).

    """

    bag: str
    in_path: Path
    out_path: Path
    size_bytes: int
    fingerprint: str

    @property
    def output(self) -> str:
        """Output path relative to the output folder, POSIX style (as the manifest keeps it)."""
        return output_name(self.bag)


def output_name(bag: str) -> str:
    """Return the result bag's path relative to the output folder for a bag's relative path."""
    return bag[:-len(SINGLE_FILE_SUFFIX)] if bag.endswith(SINGLE_FILE_SUFFIX) else bag


def find_bags(in_dir: Path, exclude: Optional[Path] = None) -> List[Path]:
    """Return every bag under ``in_dir`` (sorted), ``in_dir`` itself when it is one.

    Args:
        in_dir: folder to search (symbolic links to folders are not followed).
        exclude: a folder to leave out (the output folder when it lies inside ``in_dir``).

    """
    in_dir = Path(in_dir)
    if bag_io.is_bag(in_dir):
        return [in_dir]
    exclude = Path(exclude).resolve() if exclude is not None else None
    found = []
    for folder, subfolders, files in os.walk(in_dir):
        here = Path(folder)
        if 'metadata.yaml' in files:
            found.append(here)
            subfolders[:] = []
            continue
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith('.')
            and (exclude is None or (here / name).resolve() != exclude))
        found.extend(here / name for name in files if name.endswith(SINGLE_FILE_SUFFIX))
    return sorted(found)


def bag_files(bag: Path) -> List[Path]:
    """Return the files of a bag (a folder's, recursively, sorted; or the single file)."""
    bag = Path(bag)
    if bag.is_file():
        return [bag]
    return sorted(path for path in bag.rglob('*') if path.is_file())


def fingerprint(bag: Path) -> str:
    """Return a cheap identity of a bag's files: names, sizes and mtimes (no content read)."""
    bag = Path(bag)
    digest = hashlib.sha256()
    for path in bag_files(bag):
        status = path.stat()
        name = path.name if bag.is_file() else path.relative_to(bag).as_posix()
        digest.update(f'{name}\0{status.st_size}\0{status.st_mtime_ns}\n'.encode())
    return digest.hexdigest()[:16]


def checksum(bag: Path) -> str:
    """Return ``'sha256:<hex>'`` of a bag's file names and contents (reads every byte)."""
    bag = Path(bag)
    digest = hashlib.sha256()
    for path in bag_files(bag):
        name = path.name if bag.is_file() else path.relative_to(bag).as_posix()
        digest.update(f'{name}\0'.encode())
        with open(path, 'rb') as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                digest.update(chunk)
    return f'sha256:{digest.hexdigest()}'


def plan_jobs(in_dir: Path, out_dir: Path) -> List[BagJob]:
    """Return one ``BagJob`` per bag under ``in_dir``, outputs mirroring its layout in ``out_dir``.

    Raises:
        FileNotFoundError: ``in_dir`` does not exist.
        ValueError: two bags would write the same output (``run/`` beside ``run.mcap``).

    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.exists():
        raise FileNotFoundError(f'input folder {in_dir} does not exist')
    jobs, outputs = [], {}
    for path in find_bags(in_dir, exclude=out_dir):
        bag = (Path(path.name) if path == in_dir else path.relative_to(in_dir)).as_posix()
        job = BagJob(bag=bag, in_path=path, out_path=out_dir / output_name(bag),
                     size_bytes=sum(f.stat().st_size for f in bag_files(path)),
                     fingerprint=fingerprint(path))
        if job.output in outputs:
            raise ValueError(f'bags {outputs[job.output]} and {job.bag} would both write '
                             f'{out_dir / job.output}; rename one')
        outputs[job.output] = job.bag
        jobs.append(job)
    return jobs


def camera_frames(bag: Path) -> int:
    """Return the camera messages a bag's metadata announces (0 when it cannot be read)."""
    try:
        with bag_io.open_reader(bag) as reader:
            return sum(c.msgcount for c in reader.connections
                       if c.msgtype in bag_io.CAMERA_TYPES)
    except (bag_io.BagError, OSError):
        return 0
