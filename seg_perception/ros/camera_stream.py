"""State of one camera stream in the node: its publishers, its newest pending message, counters."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from seg_perception.ros.stream_lifting import StreamLifting
from seg_perception.stream_stats import StreamStats


@dataclass
class CameraStream:
    """State of one input topic: its publishers, its newest pending message and counters."""

    topic: str
    namespace: str
    compressed: bool
    publishers: Dict[str, Any] = field(default_factory=dict)
    subscription: Any = None
    sensor_subscriptions: List[Any] = field(default_factory=list)
    lifting: Optional[StreamLifting] = None
    depth_topic: str = ''
    waiting_for_camera_info_logged: bool = False
    pending: Any = None
    pending_received_s: float = 0.0
    last_taken_s: float = 0.0
    stats: StreamStats = field(default_factory=StreamStats)
