"""diagnostic_msgs statuses from per-camera stream statistics."""

from typing import Dict

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

_LEVELS = {0: DiagnosticStatus.OK, 1: DiagnosticStatus.WARN, 2: DiagnosticStatus.ERROR}


def diagnostic_status(name: str, hardware_id: str, level: int, message: str,
                      values: Dict[str, str]) -> DiagnosticStatus:
    """Return a ``DiagnosticStatus`` (level 0 OK, 1 WARN, 2 ERROR) with ``values`` as pairs."""
    return DiagnosticStatus(
        level=_LEVELS[level], name=name, hardware_id=hardware_id, message=message,
        values=[KeyValue(key=key, value=value) for key, value in values.items()])
