"""Build the contract's vision_msgs messages from core results."""

from typing import Iterable

from builtin_interfaces.msg import Time
from std_msgs.msg import Header
from vision_msgs.msg import LabelInfo, VisionClass

from seg_perception import taxonomy


def label_info_msg(class_ids: Iterable[int], stamp: Time, frame_id: str = '') -> LabelInfo:
    """Return a ``LabelInfo`` naming every canonical class a backend can output.

    Args:
        class_ids: canonical class ids; the message lists them ascending, then 255 'unlabeled'.
        stamp: header stamp (the time the node started: label_info is published once).
        frame_id: header frame id.

    """
    msg = LabelInfo()
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    for class_id in sorted(set(class_ids)):
        msg.class_map.append(
            VisionClass(class_id=class_id, class_name=taxonomy.CLASS_BY_ID[class_id].name))
    msg.class_map.append(
        VisionClass(class_id=taxonomy.UNLABELED, class_name=taxonomy.UNLABELED_NAME))
    msg.threshold = 0.0
    return msg
