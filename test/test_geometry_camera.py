"""Camera model: projection against OpenCV, round trips with distortion, roll/pitch/yaw poses."""

import cv2
import numpy as np
import pytest

from seg_perception.geometry import camera as cam

K = [700.0, 0.0, 640.0, 0.0, 690.0, 360.0, 0.0, 0.0, 1.0]
PLUMB_BOB = [-0.28, 0.09, 0.001, -0.0005, -0.012]
RATIONAL = [0.4, -0.05, 0.0008, 0.0003, 0.01, 0.7, -0.02, 0.03]


def random_points(n=500, seed=0):
    """Optical-frame points that project inside a 1280x720 (and a KITTI 1242x375) image."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(2.0, 60.0, n)
    x = rng.uniform(-0.8, 0.8, n) * z
    y = rng.uniform(-0.2, 0.2, n) * z
    return np.stack((x, y, z), axis=1)


@pytest.mark.parametrize('model, d', [('plumb_bob', PLUMB_BOB),
                                      ('rational_polynomial', RATIONAL),
                                      ('plumb_bob', [0.0] * 5)])
def test_projection_matches_opencv_and_round_trips(model, d):
    camera = cam.CameraModel.from_camera_info(K, d, 1280, 720, model)
    points = random_points()
    uv, valid = camera.project(points)
    assert valid.all()
    expected, _ = cv2.projectPoints(points.reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                    np.reshape(K, (3, 3)), np.asarray(d))
    np.testing.assert_allclose(uv, expected.reshape(-1, 2), atol=1e-9)
    # Back through cv2.undistortPoints: same rays, and the depth gives the points again.
    normalized = cv2.undistortPoints(uv.reshape(-1, 1, 2), np.reshape(K, (3, 3)),
                                     np.asarray(d)).reshape(-1, 2)
    # (cv2.undistortPoints does 5 iterations only: close, not exact, with strong distortion.)
    np.testing.assert_allclose(camera.normalized(uv), normalized, atol=2e-3)
    np.testing.assert_allclose(camera.unproject(uv, points[:, 2]), points, rtol=1e-5, atol=1e-4)
    rays = camera.rays(uv)
    np.testing.assert_allclose(rays, points / np.linalg.norm(points, axis=1, keepdims=True),
                               atol=1e-6)


def test_points_behind_or_far_outside_the_view_are_invalid():
    camera = cam.CameraModel.from_camera_info(K, RATIONAL, 1280, 720, 'rational_polynomial')
    uv, valid = camera.project(np.array([[0.0, 0.0, -5.0], [50.0, 0.0, 1.0], [0.0, 0.0, 5.0],
                                         [np.nan, 0.0, 3.0]]))
    assert valid.tolist() == [False, False, True, False]
    assert np.isnan(uv[~valid]).all()
    np.testing.assert_allclose(uv[2], [640.0, 360.0])


def test_pose_matrix_composes_roll_pitch_yaw_like_tf2():
    roll, pitch, yaw = 0.1, -0.2, 0.3

    def rx(a):
        return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])

    def ry(a):
        return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])

    def rz(a):
        return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])

    transform = cam.pose_matrix(1.0, 2.0, 3.0, roll, pitch, yaw)
    np.testing.assert_allclose(transform[:3, :3], rz(yaw) @ ry(pitch) @ rx(roll), atol=1e-12)
    np.testing.assert_allclose(cam.transform_points(transform, [[0, 0, 0]]), [[1, 2, 3]])
    # Composition: a child's child through the product of the two transforms.
    child = cam.pose_matrix(0.5, 0, 0, 0, 0, np.pi / 2)
    point = np.array([[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        cam.transform_points(transform @ child, point),
        cam.transform_points(transform, cam.transform_points(child, point)), atol=1e-12)
    with pytest.raises(ValueError):
        cam.pose_matrix(0, 0, np.nan)


def test_camera_pose_frames():
    # Camera 1.5 m above base, 2 m forward, pitched down 0.1 rad: the optical axis points along
    # base x and down; image right is base -y.
    body = cam.pose_matrix(2.0, 0.0, 1.5, 0.0, 0.1, 0.0)
    camera = cam.CameraModel.from_camera_info(K, [], 1280, 720, '', base_from_body=body)
    origin, rays = camera.rays_base([[640.0, 360.0], [1280.0, 360.0]])
    np.testing.assert_allclose(origin, [2.0, 0.0, 1.5])
    np.testing.assert_allclose(rays[0], [np.cos(0.1), 0.0, -np.sin(0.1)], atol=1e-12)
    assert rays[1, 1] < 0.0
    # A base point straight ahead on the optical axis projects to the principal point.
    uv, valid = camera.project_base([[2.0 + 10 * np.cos(0.1), 0.0, 1.5 - 10 * np.sin(0.1)]])
    assert valid[0]
    np.testing.assert_allclose(uv[0], [640.0, 360.0], atol=1e-9)


def test_projection_matrix_gives_kitti_camera_centre():
    p2 = np.array([[721.5377, 0.0, 609.5593, 44.85728],
                   [0.0, 721.5377, 172.854, 0.2163791],
                   [0.0, 0.0, 1.0, 0.002745884]])
    camera = cam.camera_from_projection_matrix(p2, 1242, 375)
    points = random_points(50)
    homogeneous = np.concatenate((points, np.ones((50, 1))), axis=1) @ p2.T
    uv, valid = camera.project_base(points)
    assert valid.all()
    np.testing.assert_allclose(uv, homogeneous[:, :2] / homogeneous[:, 2:], atol=1e-9)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match='9 finite'):
        cam.CameraModel.from_camera_info([1, 2, 3], [], 10, 10)
    with pytest.raises(ValueError, match='distortion_model'):
        cam.CameraModel.from_camera_info(K, [0.1] * 4, 10, 10, 'equidistant')
    with pytest.raises(ValueError, match='coefficients'):
        cam.CameraModel.from_camera_info(K, [0.1] * 6, 10, 10)
    with pytest.raises(ValueError, match='size'):
        cam.CameraModel.from_camera_info(K, [], 0, 10)
    with pytest.raises(ValueError, match='rotation'):
        cam.CameraModel.from_camera_info(K, [], 10, 10, base_from_body=np.diag([1, 1, -1, 1]))
