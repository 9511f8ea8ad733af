"""Shared fixtures: paths of the real sample data in ../shared/data (tests skip without it)."""

from pathlib import Path

import pytest
from sample_data import sample


@pytest.fixture(scope='session')
def espnetv2_weights_dir() -> Path:
    """Folder holding the authors' ESPNetv2 Cityscapes checkpoints."""
    return sample('weights', 'espnetv2_edgenets')


@pytest.fixture(scope='session')
def cityscapes_frame() -> Path:
    """Return the full-resolution Cityscapes val frame that has ground truth (2048x1024)."""
    return sample('cityscapes_samples', 'espnet_test_images',
                  'frankfurt_000000_000294_leftImg8bit.png')


@pytest.fixture(scope='session')
def cityscapes_gt_dir() -> Path:
    """Folder with that frame's gtFine labelIds / labelTrainIds / instanceIds (256x128)."""
    return sample('cityscapes_samples', 'mmseg_pseudo_cityscapes')


@pytest.fixture(scope='session')
def camvid_dir() -> Path:
    """Return the CamVid sample folder with images/ and labels/."""
    return sample('camvid_samples')
