"""Read the segmentation outputs of one camera back from a result bag (``process``, a recording).

Output topics live under ``<camera namespace>/segmentation/`` (see ``topics``); messages are
keyed by their header stamp, which equals the input frame's.
"""

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from seg_perception import topics
from seg_perception.ros import bag_io
from seg_perception.ros.conversions import stamp_to_ns

_SUFFIX = '/segmentation/'


def camera_namespaces(reader) -> List[str]:
    """Return the camera namespaces that have segmentation outputs in an open reader."""
    found = {c.topic.split(_SUFFIX)[0] for c in reader.connections if _SUFFIX in c.topic}
    return sorted(found)


def pick_namespace(reader, namespace: Optional[str]) -> str:
    """Return ``namespace`` normalised, or the bag's only camera namespace when it is None.

    Raises:
        BagError: the camera has no outputs in the bag, or None was given and the bag has
            outputs of several cameras (or none).

    """
    found = camera_namespaces(reader)
    if namespace is not None:
        namespace = '/' + namespace.strip('/') if namespace.strip('/') else ''
        if namespace not in found:
            raise bag_io.BagError(f'no segmentation outputs for camera {namespace or "/"} '
                                  f'(the bag has: {", ".join(found) or "none"})')
        return namespace
    if len(found) != 1:
        raise bag_io.BagError(f'the bag has segmentation outputs of {len(found)} cameras '
                              f'({", ".join(found) or "none"}): choose one with --topic')
    return found[0]


def output_topic(namespace: str, name: str) -> str:
    """Return the topic of output ``name`` (e.g. ``'semantic'``) of camera ``namespace``."""
    return topics.output_topics(namespace + '/image')[name]


def read_topics(reader, wanted: Dict[str, str]) -> Dict[str, Dict[int, object]]:
    """Return name -> {header stamp ns: typestore message} for each wanted name -> topic."""
    store = bag_io.typestore()
    by_topic = {topic: name for name, topic in wanted.items()}
    connections = [c for c in reader.connections if c.topic in by_topic]
    messages: Dict[str, Dict[int, object]] = {name: {} for name in wanted}
    for connection, _, raw in reader.messages(connections=connections):
        msg = store.deserialize_cdr(raw, connection.msgtype)
        messages[by_topic[connection.topic]][stamp_to_ns(msg.header.stamp)] = msg
    return messages


def semantic_maps(result_bag: Path, namespace: Optional[str] = None
                  ) -> List[Tuple[int, np.ndarray]]:
    """Return (stamp ns, (H, W) uint8 canonical class ids) of every frame, in stamp order.

    Raises:
        BagError: not a bag, no outputs for the camera, or no ``semantic`` message.

    """
    with bag_io.open_reader(result_bag) as reader:
        namespace = pick_namespace(reader, namespace)
        topic = output_topic(namespace, 'semantic')
        messages = read_topics(reader, {'semantic': topic})['semantic']
    if not messages:
        raise bag_io.BagError(f'{result_bag} has no messages on {topic}')
    return [(stamp, bag_io.image_to_array(msg)) for stamp, msg in sorted(messages.items())]
