"""Find model checkpoints on disk, or download them once into a cache with a checksum check."""

from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
import shutil
import tempfile
from typing import Iterable, List, Optional, Tuple
import urllib.error
import urllib.request

#: Environment variable naming the weights cache directory.
CACHE_ENV = 'SEG_PERCEPTION_WEIGHTS_DIR'


class WeightsError(RuntimeError):
    """A checkpoint could not be found, downloaded or verified (message says what to do)."""


@dataclass(frozen=True)
class WeightsSpec:
    """A published checkpoint.

    Attributes:
        filename: file name in a search directory or the cache.
        sha256: hex digest of the exact published file.
        url: where the authors publish it (downloaded when missing and the network allows).

    """

    filename: str
    sha256: str
    url: str


def split_weights_dirs(weights_dir: str) -> Tuple[str, ...]:
    """Return the folders of a ``weights_dir`` value (``':'``-separated; empty parts dropped)."""
    return tuple(folder for folder in weights_dir.split(':') if folder)


def with_subfolder(weights_dirs: Iterable[str], subfolder: str) -> List[str]:
    """Return the folders to search for a checkpoint: ``<dir>/<subfolder>`` then ``<dir>``.

    Lets ``weights_dir`` name either the model's own folder or the folder holding one folder per
    model (as ``../shared/data/weights`` does).
    """
    found: List[str] = []
    for folder in weights_dirs:
        if folder:
            found += [str(Path(folder).expanduser() / subfolder), folder]
    return found


def default_cache_dir() -> Path:
    """Return ``$SEG_PERCEPTION_WEIGHTS_DIR``, else ``$XDG_CACHE_HOME/seg_perception/weights``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get('XDG_CACHE_HOME') or str(Path.home() / '.cache')
    return Path(xdg) / 'seg_perception' / 'weights'


def file_sha256(path: Path) -> str:
    """Return the hex sha256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def resolve_weights(
    spec: WeightsSpec,
    explicit_path: str = '',
    search_dirs: Iterable[str] = (),
    cache_dir: Optional[Path] = None,
    allow_download: bool = True,
    timeout_s: float = 30.0,
) -> Path:
    """Return the path of a checkpoint, downloading it into the cache when it is nowhere on disk.

    Args:
        spec: the checkpoint wanted.
        explicit_path: a file the user named; used as is (no checksum: it may be their own
            fine-tuned weights). An explicit path that does not exist is an error.
        search_dirs: directories where ``spec.filename`` is looked for, in order.
        cache_dir: where downloads go; defaults to ``default_cache_dir()``.
        allow_download: set False to fail instead of using the network.
        timeout_s: network timeout of the download, seconds.

    Raises:
        WeightsError: with the exact file name and place to put it when nothing worked.

    """
    if explicit_path:
        path = Path(explicit_path).expanduser()
        if not path.is_file():
            raise WeightsError(f'weights file {path} does not exist (parameter weights_path)')
        return path
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    candidates: List[Path] = [Path(d).expanduser() / spec.filename for d in search_dirs if d]
    candidates.append(cache / spec.filename)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = ', '.join(str(c.parent) for c in candidates)
    if not allow_download:
        raise WeightsError(
            f'weights {spec.filename} not found in {where} and downloading is off; '
            f'download {spec.url} (sha256 {spec.sha256}) and put it at '
            f'{cache / spec.filename}, or set the parameter weights_path to the file'
        )
    try:
        return _download(spec, cache, timeout_s)
    except (OSError, urllib.error.URLError) as error:
        raise WeightsError(
            f'weights {spec.filename} not found in {where}, and downloading {spec.url} failed '
            f'({error}); with no network, copy the file (sha256 {spec.sha256}) to '
            f'{cache / spec.filename}, or set the parameter weights_path to the file'
        ) from error


def _download(spec: WeightsSpec, cache: Path, timeout_s: float) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / spec.filename
    # Download next to the target and rename, so an interrupted download never looks complete.
    handle, partial_name = tempfile.mkstemp(dir=cache, prefix=spec.filename, suffix='.part')
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, 'wb') as stream:
            with urllib.request.urlopen(spec.url, timeout=timeout_s) as response:
                shutil.copyfileobj(response, stream)
        actual = file_sha256(partial)
        if actual != spec.sha256:
            raise WeightsError(
                f'downloaded {spec.url} has sha256 {actual}, expected {spec.sha256}; '
                'the file was discarded'
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
