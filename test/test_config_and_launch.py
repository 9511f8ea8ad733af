"""Every file in config/ is a valid parameter file of the node; launch files compile."""

import ast
from pathlib import Path

import pytest
import yaml

from seg_perception.paths import repo_root
from seg_perception.settings import PARAMETERS

ROOT = repo_root()
SPECS = {spec.name: spec for spec in PARAMETERS}


@pytest.mark.parametrize('path', sorted((ROOT / 'config').glob('*.yaml')), ids=lambda p: p.name)
def test_config_file_sets_only_declared_parameters_with_their_types(path: Path):
    text = path.read_text()
    assert text.startswith('#'), 'each config file starts with a comment naming its weights'
    document = yaml.safe_load(text)
    (node_key, body), = document.items()
    assert node_key in ('/**', 'seg_perception', '/seg_perception')
    values = body['ros__parameters']
    for name, value in values.items():
        assert name in SPECS, f'{path.name}: unknown parameter {name}'
        default = SPECS[name].default
        assert type(value) is type(default), f'{path.name}: {name} should be {type(default)}'
        if SPECS[name].minimum is not None:
            assert SPECS[name].minimum <= value <= SPECS[name].maximum


def test_default_config_matches_the_declared_defaults():
    values = yaml.safe_load((ROOT / 'config' / 'default.yaml').read_text())
    values = values['/**']['ros__parameters']
    assert values == {name: spec.default for name, spec in SPECS.items()}


@pytest.mark.parametrize('path', sorted((ROOT / 'launch').glob('*.launch.py')),
                         ids=lambda p: p.name)
def test_launch_file_defines_generate_launch_description(path: Path):
    tree = ast.parse(path.read_text())
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert 'generate_launch_description' in functions
    assert 'eval(' not in path.read_text()
