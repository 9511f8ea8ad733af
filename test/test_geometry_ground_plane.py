"""Monocular lifting on synthetic scenes: boxes of known size and pose projected by a camera."""

import numpy as np
import pytest

from seg_perception.geometry import camera as cam
from seg_perception.geometry import ground_plane as gp

K = [720.0, 0.0, 620.0, 0.0, 720.0, 180.0, 0.0, 0.0, 1.0]


def make_camera(pitch=0.0, height=1.65):
    return cam.CameraModel.from_camera_info(
        K, [], 1240, 375, 'none', base_from_body=cam.pose_matrix(0.0, 0.0, height, 0.0, pitch))


def box_of(camera, centre_xy, size, yaw=0.0):
    """Project the corners of a 3D box (h, w, l) standing at ``centre_xy``; return its 2D box."""
    height, width, length = size
    corners = np.array([[sx * length / 2, sy * width / 2, sz * height]
                        for sx in (-1, 1) for sy in (-1, 1) for sz in (0, 1)])
    rotation = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0],
                         [0, 0, 1]])
    corners = corners @ rotation.T + [centre_xy[0], centre_xy[1], 0.0]
    uv, valid = camera.project_base(corners)
    assert valid.all()
    return np.concatenate((uv.min(axis=0), uv.max(axis=0)))


CAR = gp.SIZE_PRIORS['car']
SCENE = [(8.0, 2.5), (15.0, -3.0), (22.0, 0.5), (30.0, 3.5), (38.0, -1.0), (12.0, 0.0)]


def scene_boxes(camera):
    return np.array([box_of(camera, xy, (CAR.height, CAR.width, CAR.length)) for xy in SCENE])


def test_intersect_ground_and_baseline():
    camera = make_camera()
    points, valid = gp.intersect_ground(camera, [[620.0, 180.0 + 720.0 * 1.65 / 10.0],
                                                 [620.0, 100.0]])
    assert valid.tolist() == [True, False]
    np.testing.assert_allclose(points[0], [10.0, 0.0, 0.0], atol=1e-9)
    # The baseline puts a car at its near side: half a length short.
    baseline, ok = gp.flat_ground_baseline(camera, scene_boxes(camera))
    assert ok.all()
    np.testing.assert_allclose(baseline[:, 0], [x for x, _ in SCENE], atol=CAR.length / 2 + 0.3)
    assert (baseline[:, 0] < np.array([x for x, _ in SCENE])).all()


def test_lift_boxes_recovers_centres_of_prior_sized_cars():
    camera = make_camera()
    lifted = gp.lift_boxes(camera, scene_boxes(camera), ['car'] * len(SCENE))
    assert lifted.valid.all()
    assert abs(lifted.pitch_correction) < 0.002
    error = np.linalg.norm(lifted.centres[:, :2] - np.array(SCENE), axis=1)
    distance = np.linalg.norm(np.array(SCENE), axis=1)
    assert (error / distance).max() < 0.05


def test_pitch_error_is_estimated_from_the_objects():
    # The real camera is pitched down 1.5 degrees; the model believes it is level.
    truth = make_camera(pitch=np.radians(1.5))
    boxes = scene_boxes(truth)
    believed = make_camera()
    plain = gp.lift_boxes(believed, boxes, ['car'] * len(SCENE),
                          gp.GroundLiftConfig(estimate_pitch=False, use_size_prior=False))
    corrected = gp.lift_boxes(believed, boxes, ['car'] * len(SCENE))
    assert corrected.pitch_correction == pytest.approx(-np.radians(1.5), abs=np.radians(0.2))
    scene = np.array(SCENE)
    distance = np.linalg.norm(scene, axis=1)
    plain_error = np.linalg.norm(plain.centres[:, :2] - scene, axis=1) / distance
    error = np.linalg.norm(corrected.centres[:, :2] - scene, axis=1) / distance
    assert error.max() < 0.05
    assert plain_error.mean() > 3 * error.mean()


def test_boxes_cut_by_the_border_and_mounted_things():
    camera = make_camera()
    boxes = np.array([[600.0, 150.0, 700.0, 375.0],    # bottom cut: size prior only
                      [600.0, 150.0, 640.0, 200.0]])   # a traffic sign, not on the ground
    lifted = gp.lift_boxes(camera, boxes, ['car', 'traffic_sign'],
                           gp.GroundLiftConfig(estimate_pitch=False))
    assert np.isnan(lifted.ground_range).all()
    assert lifted.valid.all()
    assert lifted.centres[1, 2] > 1.0   # the sign's centre is in the air, above the camera row
    with pytest.raises(ValueError):
        gp.lift_boxes(camera, boxes, ['car'])
    with pytest.raises(ValueError):
        gp.lift_boxes(camera, [[10.0, 10.0, 5.0, 20.0]], ['car'])
