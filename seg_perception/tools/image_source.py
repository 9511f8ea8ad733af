"""Read a drive from an image folder (sorted by name) or a video file, as RGB frames."""

from pathlib import Path
from typing import Iterator, List, Tuple

import cv2
import numpy as np

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.tif', '.tiff')


def list_images(folder: Path) -> List[Path]:
    """Return the image files of ``folder`` sorted by name.

    Raises:
        FileNotFoundError: the folder does not exist or holds no image.

    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'image folder {folder} does not exist')
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise FileNotFoundError(
            f'no images ({", ".join(IMAGE_SUFFIXES)}) in {folder}')
    return images


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; raise ValueError if it cannot be decoded."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'cannot read image {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def iter_frames(source: Path, limit: int = 0) -> Iterator[Tuple[str, np.ndarray]]:
    """Yield (name, (H, W, 3) uint8 RGB) from an image folder or a video file.

    Args:
        source: a folder of images (taken in name order) or a video file (frame by frame).
        limit: stop after this many frames (0 = all).

    Names are the image file stems, or ``<video stem>_<frame index, 6 digits>`` for videos.

    """
    source = Path(source)
    count = 0
    if source.is_dir():
        for path in list_images(source):
            if limit and count >= limit:
                return
            yield path.stem, read_rgb(path)
            count += 1
        return
    if not source.is_file():
        raise FileNotFoundError(f'{source} is neither an image folder nor a video file')
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise ValueError(f'cannot open video {source}')
    try:
        while not limit or count < limit:
            ok, bgr = capture.read()
            if not ok:
                break
            yield f'{source.stem}_{count:06d}', cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            count += 1
    finally:
        capture.release()
