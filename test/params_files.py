"""Parameter files the tests write: the node's settings without the default's extra models."""

from pathlib import Path


def write_espnetv2_params(path: Path, width: int, height: int) -> Path:
    """Write a parameter file for ESPNetv2 alone (no detector) at width x height on the CPU.

    Returns:
        ``path``.

    """
    path.write_text(f'/**:\n  ros__parameters:\n    input_width: {width}\n'
                    f'    input_height: {height}\n'
                    "    device: cpu\n    backend: espnetv2\n    detector: ''\n")
    return path
