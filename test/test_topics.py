"""Output topic names derived from input topics (the contract's namespace rule)."""

import pytest

from seg_perception import topics


@pytest.mark.parametrize('topic, namespace', [
    ('/cam/front/image_raw', '/cam/front'),
    ('/cam/front/image_raw/compressed', '/cam/front'),
    ('/camera/image_raw', '/camera'),
    ('/image_raw', ''),
    ('camera/image', '/camera'),
])
def test_camera_namespace(topic, namespace):
    assert topics.camera_namespace(topic) == namespace


def test_output_topics_live_under_segmentation():
    names = topics.output_topics('/cam/front/image_raw/compressed')
    assert names['semantic'] == '/cam/front/segmentation/semantic'
    assert names['label_info'] == '/cam/front/segmentation/label_info'
    assert set(names) == set(topics.OUTPUT_NAMES)


def test_compressed_detection_and_camera_info():
    assert topics.is_compressed_topic('/a/image/compressed')
    assert not topics.is_compressed_topic('/a/compressed_image')
    assert topics.camera_info_topic('/cam/front/image_raw') == '/cam/front/camera_info'


def test_empty_topic_is_rejected():
    with pytest.raises(ValueError, match='empty'):
        topics.camera_namespace('  ')
