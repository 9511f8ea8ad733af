"""Paths of the real sample data in ../shared/data; tests that need it skip without it."""

from pathlib import Path

import pytest

from seg_perception import paths


def sample(*parts: str) -> Path:
    """Return the path of a sample file; skip the test when the sample data is not here."""
    path = paths.sample_path(*parts)
    if path is None:
        pytest.skip(f'sample data {"/".join(parts)} not found (set SEG_PERCEPTION_DATA)')
    return path
