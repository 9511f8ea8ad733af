"""Read a node parameter file (``--params-file`` YAML) into settings, without a ROS node."""

from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from seg_perception.settings import default_values, NodeSettings, settings_from_values

#: Node names whose ``ros__parameters`` apply to the node (wildcards and its own name).
_NODE_KEYS = ('/**', '**', 'seg_perception', '/seg_perception')


def read_values(path: Optional[Path]) -> Dict[str, Any]:
    """Return every declared parameter's value: the file's where it sets one, else the default.

    Args:
        path: a ROS 2 parameter file (``<node>: ros__parameters: {...}``), or None for defaults.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a parameter file, or it sets an undeclared parameter.

    """
    values = default_values()
    if path is None:
        return values
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'parameter file {path} does not exist')
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict):
        raise ValueError(f'{path} is not a ROS 2 parameter file (no mapping at its top)')
    found = False
    for key in _NODE_KEYS:
        section = content.get(key)
        if isinstance(section, dict) and isinstance(section.get('ros__parameters'), dict):
            found = True
            for name, value in section['ros__parameters'].items():
                if name not in values:
                    raise ValueError(f'{path}: unknown parameter {name!r}')
                values[name] = value
    if not found:
        raise ValueError(f'{path} has no ros__parameters for /** or seg_perception')
    return values


def read_file_settings(path: Optional[Path], overrides: Optional[Dict[str, Any]] = None
                       ) -> NodeSettings:
    """Return the node's settings for a parameter file, checked as the node checks them.

    Args:
        path: a ROS 2 parameter file, or None for the defaults.
        overrides: parameter values that replace the file's.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a malformed file, an undeclared parameter, or a value the node rejects.

    """
    values = read_values(path)
    for name, value in (overrides or {}).items():
        if name not in values:
            raise ValueError(f'unknown parameter {name!r}')
        values[name] = value
    return settings_from_values(values)
