"""Style checks as the ament linters make them.

flake8 with 99 columns, single quotes, google import order and pep257 docstrings.
"""

import subprocess
import sys

import pytest

from seg_perception.paths import repo_root

pytest.importorskip('flake8')

TARGETS = ['seg_perception', 'test', 'launch', 'setup.py']


def test_flake8_and_docstrings_pass():
    result = subprocess.run(
        [sys.executable, '-m', 'flake8', *TARGETS], cwd=repo_root(), capture_output=True,
        text=True)
    assert result.returncode == 0, result.stdout + result.stderr
