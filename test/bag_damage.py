"""Tiny bags made with ``make-bag`` from downscaled CamVid frames, and ways to damage them."""

from pathlib import Path

import cv2
from sample_data import sample

from seg_perception.tools import cli

#: Side of the downscaled frames (keeps every bag a few tens of kilobytes).
SMALL_SIZE = (160, 120)
START_S = 1_700_000_000.0


def small_frames(folder: Path, count: int = 3, offset: int = 0) -> Path:
    """Write ``count`` CamVid frames downscaled to SMALL_SIZE into ``folder``; return it."""
    images = sorted(sample('camvid_samples', 'images').glob('*.png'))[offset:offset + count]
    folder.mkdir(parents=True, exist_ok=True)
    for path in images:
        cv2.imwrite(str(folder / path.name), cv2.resize(cv2.imread(str(path)), SMALL_SIZE))
    return folder


def make_small_bag(frames: Path, bag: Path, storage: str = 'sqlite3',
                   compressed: bool = False) -> Path:
    """Write the frames of ``frames`` into ``bag`` with ``seg-perception make-bag``."""
    argv = ['make-bag', str(frames), str(bag), '--storage', storage, '--fps', '10',
            '--topic', '/cam/front/image_raw', '--start', str(START_S)]
    assert cli.main(argv + (['--compressed'] if compressed else [])) == 0
    return bag


def storage_file(bag: Path) -> Path:
    """Return the single storage file (.db3 / .mcap) of a bag folder, or the bag file itself."""
    if bag.is_file():
        return bag
    files = sorted(bag.glob('*.db3')) + sorted(bag.glob('*.mcap'))
    assert len(files) == 1, files
    return files[0]


def drop_message_counts(bag: Path) -> None:
    """Remove ``topics_with_message_count`` from a bag's metadata.yaml (a broken recorder)."""
    path = bag / 'metadata.yaml'
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if 'topics_with_message_count' in line)
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith('  ' * 2)
               and not lines[i].startswith('  -'))
    path.write_text(''.join(lines[:start] + lines[end:]))
    assert 'topics_with_message_count' not in path.read_text()


def truncate(bag: Path, keep: float = 0.4) -> None:
    """Cut a bag's storage file to ``keep`` of its size (a copy that stopped half-way)."""
    path = storage_file(bag)
    with open(path, 'r+b') as stream:
        stream.truncate(int(path.stat().st_size * keep))


def scribble(bag: Path, start: float = 0.45, length: float = 0.35) -> None:
    """Overwrite the middle of a bag's storage file with 0xff (its head and tail intact)."""
    path = storage_file(bag)
    data = bytearray(path.read_bytes())
    first = int(len(data) * start)
    data[first:first + int(len(data) * length)] = b'\xff' * int(len(data) * length)
    path.write_bytes(bytes(data))
