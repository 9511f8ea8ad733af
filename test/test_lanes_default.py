"""The default configuration outputs lane_marking and lane lines on real BDD100K frames."""

import numpy as np
import pytest
from sample_data import sample
import yaml

from seg_perception import taxonomy
from seg_perception.backends.base import BackendOptions
from seg_perception.backends.registry import create_backend
from seg_perception.paths import repo_root
from seg_perception.pipeline import Pipeline
from seg_perception.structures import Frame
from seg_perception.tools.image_source import read_rgb
from seg_perception.tracking.tracker import Tracker


def _default_backend_name() -> str:
    values = yaml.safe_load((repo_root() / 'config' / 'default.yaml').read_text())
    return values['/**']['ros__parameters']['backend']


@pytest.fixture(scope='module')
def default_pipeline():
    options = BackendOptions(
        weights_dirs=(str(sample('weights', 'espnetv2_edgenets')),
                      str(sample('weights', 'twinlitenet'))),
        device='cpu', allow_download=False)
    backend = create_backend(_default_backend_name(), options)
    yield Pipeline(backend, Tracker)
    backend.release()


@pytest.mark.timeout(120)
def test_label_info_of_the_default_backend_lists_lane_marking(default_pipeline):
    from seg_perception.ros.messages import label_info_msg
    msg = label_info_msg(default_pipeline.segmenter.class_ids, None)
    names = [entry.class_name for entry in msg.class_map]
    assert 'lane_marking' in names and 'road' in names and 'car' in names


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_lane_pixels_and_lines_on_every_bdd100k_sample_frame(default_pipeline):
    frames = sorted(sample('bdd100k_samples', 'twinlitenet_images').glob('*.jpg'))
    assert frames
    lane = taxonomy.class_id('lane_marking')
    for path in frames:
        image = read_rgb(path)
        result = default_pipeline.process(Frame(image, camera=path.stem))
        mask = result.semantic == lane
        assert 0.001 <= mask.mean() <= 0.05, (path.name, mask.mean())
        rows = np.nonzero(mask)[0]
        # under the horizon: BDD100K's camera sees the horizon near mid-height
        assert rows.min() >= 0.35 * image.shape[0], path.name
        assert len(result.lanes) >= 1, path.name
        for line in result.lanes:
            assert line.y_top >= 0.35 * image.shape[0] and 0.0 < line.confidence <= 1.0
