"""The 3D constant-velocity motion model."""

import numpy as np
import pytest

from seg_perception.geometry.motion import MotionConfig, MotionModel


def run_track(noise, seed=0, steps=40):
    rng = np.random.default_rng(seed)
    model = MotionModel()
    velocity = np.array([8.0, -1.5])
    for k in range(steps):
        t = k * 0.1
        measured = np.array([10.0, 2.0]) + velocity * t + rng.normal(0.0, noise, 2)
        position, estimate = model.update(7, measured, int(round(t * 1e9)), max(noise, 0.05))
    return position, estimate


def test_velocity_of_a_constant_velocity_track():
    position, velocity = run_track(0.0)
    np.testing.assert_allclose(velocity, [8.0, -1.5], atol=0.05)
    np.testing.assert_allclose(position, [10.0 + 8.0 * 3.9, 2.0 - 1.5 * 3.9], atol=0.01)
    # With 10 cm position noise at 10 Hz: unbiased, about 0.4 m/s spread (50 runs).
    errors = np.array([run_track(0.1, seed)[1] - [8.0, -1.5] for seed in range(50)])
    assert np.abs(errors.mean(axis=0)).max() < 0.2
    assert 0.2 < errors.std() < 0.6


def test_new_tracks_start_at_rest_and_tracks_are_independent():
    model = MotionModel()
    _, velocity = model.update(1, [5.0, 0.0, 0.7], 0)
    assert velocity.tolist() == [0.0, 0.0]
    model.update(2, [0.0, 5.0], 0)
    model.update(1, [6.0, 0.0], 500_000_000)
    assert model.state(1)[1][0] > 1.0 and model.state(2)[1].tolist() == [0.0, 0.0]
    # A stamp going back restarts the track; old tracks are pruned.
    _, velocity = model.update(1, [6.0, 0.0], 100)
    assert velocity.tolist() == [0.0, 0.0]
    model.prune(10 * 10 ** 9)
    assert len(model) == 0 and model.state(1) is None


def test_bad_inputs():
    model = MotionModel()
    with pytest.raises(ValueError):
        model.update(1, [np.nan, 0.0], 0)
    with pytest.raises(ValueError):
        model.update(1, [0.0, 0.0], 0, measurement_std=0.0)
    with pytest.raises(ValueError):
        MotionConfig(max_age_s=0.0)
