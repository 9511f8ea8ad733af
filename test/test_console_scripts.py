"""A newcomer's shell: after ``. scripts/env.sh`` the console scripts run from any directory."""

import os
from pathlib import Path
import subprocess

import pytest

from seg_perception.paths import repo_root


def newcomer_shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``command`` in a clean bash (only PATH and HOME set) after sourcing env.sh."""
    env = {'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': os.environ.get('HOME', '/root')}
    if 'SEG_PERCEPTION_VENV' in os.environ:
        env['SEG_PERCEPTION_VENV'] = os.environ['SEG_PERCEPTION_VENV']
    script = f'set -e; . {repo_root() / "scripts" / "env.sh"}; cd {cwd}; {command}'
    return subprocess.run(['bash', '-c', script], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)


@pytest.mark.timeout(180)
def test_console_scripts_are_on_path_outside_the_checkout(tmp_path):
    result = newcomer_shell('command -v seg-perception; command -v seg_perception_node; '
                            'seg-perception --help', tmp_path)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].endswith('/bin/seg-perception')
    assert lines[1].endswith('/bin/seg_perception_node')
    for command in ('drive', 'process', 'make-bag', 'evaluate', 'bench'):
        assert command in result.stdout


@pytest.mark.timeout(180)
def test_the_installed_package_is_this_checkout_not_a_copy(tmp_path):
    result = newcomer_shell(
        'python -c "import seg_perception; print(seg_perception.__file__)"', tmp_path)
    assert result.returncode == 0, result.stdout
    assert Path(result.stdout.strip()).resolve() == \
        (repo_root() / 'seg_perception' / '__init__.py').resolve()
