"""Topic names of the output contract, derived from input camera topics."""

from typing import Dict

#: Output topics under ``<camera namespace>/segmentation/``.
OUTPUT_NAMES = (
    'semantic', 'instances', 'label_info', 'detections', 'overlay', 'markers', 'objects_3d',
    'lanes',
)


def is_compressed_topic(topic: str) -> bool:
    """Return True when ``topic`` carries CompressedImage (its name ends in ``/compressed``)."""
    return topic.rstrip('/').endswith('/compressed')


def camera_namespace(topic: str) -> str:
    """Return the camera namespace of an image topic.

    A trailing ``/compressed`` is removed, then the last segment:
    ``/cam/front/image_raw`` -> ``/cam/front``; ``/cam/image/compressed`` -> ``/cam``;
    ``/image_raw`` -> ``''`` (the root namespace).

    Raises:
        ValueError: for an empty topic name.

    """
    name = topic.strip().rstrip('/')
    if not name:
        raise ValueError('image topic name is empty')
    if is_compressed_topic(name):
        name = name[:-len('/compressed')]
    if not name.startswith('/'):
        name = '/' + name
    return name.rsplit('/', 1)[0]


def output_topics(image_topic: str) -> Dict[str, str]:
    """Return {output name: full topic} for one input topic (see ``OUTPUT_NAMES``)."""
    base = camera_namespace(image_topic) + '/segmentation/'
    return {name: base + name for name in OUTPUT_NAMES}


def camera_info_topic(image_topic: str) -> str:
    """Return the sibling ``camera_info`` topic of an image topic."""
    return camera_namespace(image_topic) + '/camera_info'
