"""``OUT_DIR/manifest.json`` of a fleet run: one record per input bag, rewritten atomically.

A record says what happened to a bag the last time it was processed (frames, skipped frames,
seconds, output, error, the input's checksum and fingerprint, the settings' digest). A rerun
skips a bag whose record has no error, whose output bag exists, whose settings are the same
and whose input is unchanged: same fingerprint (names, sizes, mtimes), or, when only that
changed (a copy), same content checksum.
"""

from dataclasses import asdict, dataclass, fields
import hashlib
import json
import os
from pathlib import Path
import time
from typing import Dict, Optional

from seg_perception.ros import bag_io
from seg_perception.tools.fleet_inputs import BagJob, checksum

MANIFEST_NAME = 'manifest.json'
MANIFEST_VERSION = 1


@dataclass
class BagRecord:
    """What the last run did with one bag (a ``manifest.json`` entry).

    Attributes:
        bag: input path relative to the input folder.
        output: result bag path relative to the output folder; None when the bag failed.
        input_checksum: ``'sha256:<hex>'`` of the input's names and bytes ('' if not read).
        input_fingerprint: names, sizes and mtimes of the input's files (see fleet_inputs).
        settings_digest: digest of the parameter file and weights folder used.
        frames: camera frames segmented and written.
        skipped_frames: camera frames that could not be read or segmented.
        seconds: wall-clock seconds the worker spent on the bag.
        error: why the bag failed, or None when its output is complete.
        attempts: 1, or 2 when the first worker died and the bag was retried.
        worker: ``host:pid`` of the worker that processed it last.
        finished: UTC time the record was written, ISO 8601.

    """

    bag: str
    output: Optional[str]
    input_checksum: str = ''
    input_fingerprint: str = ''
    settings_digest: str = ''
    frames: int = 0
    skipped_frames: int = 0
    seconds: float = 0.0
    error: Optional[str] = None
    attempts: int = 1
    worker: str = ''
    finished: str = ''


def settings_digest(params_file: Path, weights_dir: str) -> str:
    """Return a digest of what decides a bag's outputs: the parameter file's text and weights."""
    digest = hashlib.sha256(Path(params_file).read_bytes())
    digest.update(f'\0{weights_dir}'.encode())
    return digest.hexdigest()[:16]


def utc_now() -> str:
    """Return the current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


class Manifest:
    """The records of one output folder, loaded from and saved to its ``manifest.json``.

    Raises:
        ValueError: (on load) the file exists but is not a manifest of this version.

    """

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / MANIFEST_NAME
        self.records: Dict[str, BagRecord] = {}
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            if data.get('version') != MANIFEST_VERSION:
                raise ValueError(f'version {data.get("version")!r}, expected {MANIFEST_VERSION}')
            names = {f.name for f in fields(BagRecord)}
            self.records = {bag: BagRecord(**{k: v for k, v in record.items() if k in names})
                            for bag, record in data['bags'].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f'{self.path} is not a fleet manifest ({error}); move it away to '
                             'start afresh') from error

    def save(self) -> None:
        """Write the manifest to a temporary file renamed over the old one (never half-written)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {'version': MANIFEST_VERSION,
                'bags': {bag: asdict(record) for bag, record in sorted(self.records.items())}}
        temporary = self.path.with_name(f'.{self.path.name}.tmp')
        temporary.write_text(json.dumps(data, indent=1) + '\n')
        os.replace(temporary, self.path)

    def put(self, record: BagRecord) -> None:
        """Store a bag's record and save the manifest at once (a crash loses no finished bag)."""
        self.records[record.bag] = record
        self.save()

    def is_complete(self, job: BagJob, digest: str) -> bool:
        """Whether ``job``'s output is complete and still matches its input and settings.

        A fingerprint change alone (a copied or touched input) costs one checksum of the input;
        when the content is the same the record's fingerprint is brought up to date.
        """
        record = self.records.get(job.bag)
        if record is None or record.error is not None or record.settings_digest != digest:
            return False
        if record.output != job.output or not bag_io.is_bag(job.out_path):
            return False
        if record.input_fingerprint == job.fingerprint:
            return True
        if record.input_checksum and record.input_checksum == checksum(job.in_path):
            record.input_fingerprint = job.fingerprint
            return True
        return False
