"""Depth-image and LiDAR lifting on scenes rendered from known 3D boxes."""

from geometry_scenes import lidar_scan, render_depth
import numpy as np
import pytest

from seg_perception.geometry import camera as cam
from seg_perception.geometry.boxes import fit_box
from seg_perception.geometry.cloud_lifting import CloudLiftConfig, lift_cloud, project_cloud
from seg_perception.geometry.depth_lifting import depth_to_metres, DepthLiftConfig, lift_depth
from seg_perception.geometry.ground_plane import SizePrior

K = [400.0, 0.0, 320.0, 0.0, 400.0, 200.0, 0.0, 0.0, 1.0]
D = [-0.1, 0.02, 0.0005, -0.0003, 0.0]


@pytest.fixture(scope='module')
def camera():
    return cam.CameraModel.from_camera_info(
        K, D, 640, 400, 'plumb_bob', base_from_body=cam.pose_matrix(1.0, 0.0, 1.6, 0.0, 0.05))


# (centre, size along its own x y z, yaw): an axis-aligned car seen from a corner, and a
# rotated one; both stand on the ground.
CAR_AA = (np.array([12.0, 3.0, 0.75]), np.array([4.0, 1.8, 1.5]), 0.0)
CAR_YAW = (np.array([15.0, -3.5, 0.8]), np.array([4.4, 1.9, 1.6]), 0.4)


def holes(depth, rng, fraction=0.15):
    """Knock out pixels as depth cameras do: 0 in 16UC1, NaN / 0 / inf in 32FC1."""
    lost = rng.random(depth.shape) < fraction
    out = depth.copy()
    if out.dtype == np.uint16:
        out[lost] = 0
    else:
        out[lost] = rng.choice([np.nan, 0.0, np.inf], size=int(lost.sum()))
    return out


@pytest.mark.parametrize('encoding', ['16UC1', '32FC1'])
def test_depth_lifting_recovers_a_box_seen_from_a_corner(camera, encoding):
    depth, which = render_depth(camera, [CAR_AA])
    mask = which == 0
    assert mask.sum() > 500
    # The mask bleeds 2 px onto the background (as real masks do).
    import cv2
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    rng = np.random.default_rng(0)
    image = np.round(depth * 1000.0).astype(np.uint16) if encoding == '16UC1' else depth
    image = holes(image, rng)
    centre, size, _ = CAR_AA
    prior = SizePrior(size[2], size[1], size[0])
    for mode in ('yaw', 'axis_aligned'):
        box = lift_depth(camera, image, mask, prior, DepthLiftConfig(box_mode=mode))
        assert box is not None
        np.testing.assert_allclose(box.centre, centre, atol=0.05)
        np.testing.assert_allclose(box.size, size, atol=0.08)
        assert abs(box.yaw) < np.radians(1.0)
    # Without a prior the road points are dropped and the box starts 0.2 m above the ground.
    bare = lift_depth(camera, image, mask)
    assert bare.size[2] == pytest.approx(1.3, abs=0.05)


def test_depth_lifting_completes_a_box_seen_from_behind(camera):
    # A van taller than the camera: only its rear face is seen.
    behind = (np.array([14.0, 0.0, 1.1]), np.array([4.0, 1.8, 2.2]), 0.0)
    depth, which = render_depth(camera, [behind])
    prior = SizePrior(2.2, 1.8, 4.0)
    box = lift_depth(camera, depth, which == 0, prior)
    np.testing.assert_allclose(box.centre, behind[0], atol=0.05)
    np.testing.assert_allclose(box.size, behind[1], atol=0.08)
    # Without the prior only the rear face is seen: the centre is 2 m short.
    bare = lift_depth(camera, depth, which == 0)
    assert bare.centre[0] == pytest.approx(12.0, abs=0.05)


def test_depth_conversion_and_input_checks(camera):
    metres = depth_to_metres(np.array([[0, 1500]], dtype=np.uint16))
    assert np.isnan(metres[0, 0]) and metres[0, 1] == pytest.approx(1.5)
    metres = depth_to_metres(np.array([[np.nan, np.inf, -1.0, 0.0, 2.5]], dtype=np.float32))
    assert np.isnan(metres[0, :4]).all() and metres[0, 4] == 2.5
    with pytest.raises(ValueError, match='uint16'):
        depth_to_metres(np.zeros((2, 2), dtype=np.int32))
    with pytest.raises(ValueError, match='image size'):
        lift_depth(camera, np.zeros((10, 10), np.float32), np.zeros((10, 10), bool))
    empty = np.zeros((camera.height, camera.width), np.float32)
    assert lift_depth(camera, empty, np.ones_like(empty, dtype=bool)) is None
    with pytest.raises(ValueError, match='box_mode'):
        DepthLiftConfig(box_mode='obb')


def test_lidar_lifting_recovers_an_oriented_box(camera):
    pytest.importorskip('open3d')
    base_from_lidar = cam.pose_matrix(0.5, 0.2, 1.9, 0.0, 0.0, 0.3)
    boxes = [CAR_YAW, CAR_AA]
    cloud = lidar_scan(base_from_lidar, boxes)
    _, which = render_depth(camera, boxes)
    projected = project_cloud(camera, cloud, base_from_lidar)
    box = lift_cloud(camera, cloud, base_from_lidar, which == 0, projected=projected,
                     config=CloudLiftConfig(box_mode='yaw', ground_clearance_m=0.1))
    centre, size, yaw = CAR_YAW
    # minAreaRect's rectangle: yaw modulo 90 degrees, sides in either order.
    turn = (box.yaw - yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4
    assert abs(turn) < np.radians(2.0)
    np.testing.assert_allclose(box.centre[:2], centre[:2], atol=0.08)
    np.testing.assert_allclose(np.sort(box.size[:2]), np.sort(size[:2]), atol=0.12)
    assert box.size[2] == pytest.approx(size[2] - 0.1, abs=0.12)  # the bottom 0.1 m dropped
    # Axis-aligned mode on the other car, with the ground points kept: DBSCAN keeps the car
    # apart from the ground only if they are not one cluster; the clearance removes the road.
    other = lift_cloud(camera, cloud, base_from_lidar, which == 1,
                       config=CloudLiftConfig(box_mode='axis_aligned', ground_clearance_m=0.1))
    np.testing.assert_allclose(other.centre[:2], CAR_AA[0][:2], atol=0.08)
    # (the far end of its side face is seen at a grazing angle: up to 15 cm short)
    np.testing.assert_allclose(other.size[:2], CAR_AA[1][:2], atol=0.15)


def test_lidar_background_past_the_mask_is_a_smaller_cluster(camera):
    pytest.importorskip('open3d')
    base_from_lidar = cam.pose_matrix(1.0, 0.0, 1.6)
    cloud = lidar_scan(base_from_lidar, [CAR_AA])
    _, which = render_depth(camera, [CAR_AA])
    import cv2
    bleeding = cv2.dilate((which == 0).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    box = lift_cloud(camera, cloud, base_from_lidar, bleeding,
                     config=CloudLiftConfig(box_mode='axis_aligned', ground_clearance_m=0.1))
    np.testing.assert_allclose(box.centre[:2], CAR_AA[0][:2], atol=0.1)
    assert lift_cloud(camera, cloud, base_from_lidar, np.zeros_like(bleeding)) is None


def test_fit_box_checks():
    with pytest.raises(ValueError):
        fit_box(np.zeros((0, 3)))
    with pytest.raises(ValueError):
        fit_box(np.zeros((3, 3)), mode='sphere')
    with pytest.raises(ValueError):
        fit_box(np.zeros((3, 3)), prior=SizePrior(1, 1, 1))
