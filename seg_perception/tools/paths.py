"""Where the sample data and weights of a source checkout are (``../shared/data``), if anywhere."""

import os
from pathlib import Path
from typing import Optional

#: Environment variable overriding the sample data folder.
DATA_ENV = 'SEG_PERCEPTION_DATA'


def repo_root() -> Path:
    """Return the source checkout holding this package (for source and editable installs)."""
    return Path(__file__).resolve().parents[2]


def sample_data_dir() -> Optional[Path]:
    """``$SEG_PERCEPTION_DATA``, else ``<checkout>/../shared/data`` when it exists, else None."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    candidate = repo_root().parent / 'shared' / 'data'
    return candidate if candidate.is_dir() else None


def sample_path(*parts: str) -> Optional[Path]:
    """Return a path inside the sample data folder when it exists there, else None."""
    base = sample_data_dir()
    if base is None:
        return None
    path = base.joinpath(*parts)
    return path if path.exists() else None


def default_weights_dirs() -> str:
    """Return the sample weights folders of the default backend, ':'-separated ('' if none).

    ESPNetv2's folder, then TwinLiteNet's (the default backend paints its lane lines).
    """
    found = [sample_path('weights', name) for name in ('espnetv2_edgenets', 'twinlitenet')]
    return ':'.join(str(path) for path in found if path is not None)


def default_config() -> Path:
    """``config/default.yaml`` of the checkout, or of the installed ROS share directory."""
    local = repo_root() / 'config' / 'default.yaml'
    if local.is_file():
        return local
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory('seg_perception')) / 'config' / 'default.yaml'
    except (ImportError, LookupError):
        return local
