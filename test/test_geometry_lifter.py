"""``Lifter``: tracked things of a rendered frame to ``Object3D`` by each method."""

from geometry_scenes import lidar_scan, render_depth
import numpy as np
import pytest

from seg_perception import taxonomy
from seg_perception.geometry import camera as cam
from seg_perception.geometry.lifter import LidarCloud, Lifter, LifterConfig, Object3D
from seg_perception.structures import TrackedObject

K = [400.0, 0.0, 320.0, 0.0, 400.0, 200.0, 0.0, 0.0, 1.0]
CAR = taxonomy.class_id('car')
# Cars of the prior's size (h 1.53, w 1.63, l 3.88), seen from a corner.
SCENE = [(np.array([14.0, 3.0, 0.765]), np.array([3.88, 1.63, 1.53]), 0.0),
         (np.array([20.0, -4.0, 0.765]), np.array([3.88, 1.63, 1.53]), 0.0)]
TRACK_IDS = (5, 9)


@pytest.fixture(scope='module')
def camera():
    return cam.CameraModel.from_camera_info(
        K, [], 640, 400, 'none', base_from_body=cam.pose_matrix(1.0, 0.0, 1.6, 0.0, 0.05))


def frame(camera, scene):
    depth, which = render_depth(camera, scene)
    instances = np.zeros(which.shape, dtype=np.uint16)
    objects = []
    for index, track_id in enumerate(TRACK_IDS):
        rows, cols = np.nonzero(which == index)
        instances[which == index] = track_id
        objects.append(TrackedObject(track_id, CAR, 0.9, (float(cols.min()), float(rows.min()),
                                                          float(cols.max()), float(rows.max()))))
    return depth, instances, objects


def centres(lifted):
    return np.array([obj.center for obj in lifted])


def test_ground_plane_lifting(camera):
    _, instances, objects = frame(camera, SCENE)
    lifted = Lifter(camera).lift(objects, instances, 0)
    assert [obj.method for obj in lifted] == ['ground_plane'] * 2
    assert isinstance(lifted[0], Object3D) and lifted[0].class_name == 'car'
    assert [obj.track_id for obj in lifted] == list(TRACK_IDS)
    truth = np.array([c for c, _, _ in SCENE])
    error = np.linalg.norm(centres(lifted) - truth, axis=1) / np.linalg.norm(truth, axis=1)
    assert error.max() < 0.06
    assert lifted[0].size == pytest.approx((3.88, 1.63, 1.53))
    assert lifted[0].velocity == (0.0, 0.0, 0.0)


def test_depth_lifting_with_fallback_and_velocity(camera):
    depth, instances, objects = frame(camera, SCENE)
    depth_mm = np.round(depth * 1000).astype(np.uint16)
    depth_mm[instances == TRACK_IDS[1]] = 0     # no depth on the second car
    lifter = Lifter(camera, LifterConfig(method='depth'))
    lifted = lifter.lift(objects, instances, 0, depth=depth_mm)
    assert [obj.method for obj in lifted] == ['depth', 'ground_plane']
    np.testing.assert_allclose(lifted[0].center, SCENE[0][0], atol=0.08)
    # 0.1 s later both cars are 1 m further: velocity along +x.
    moved = [(c + [1.0, 0.0, 0.0], s, y) for c, s, y in SCENE]
    depth, instances, objects = frame(camera, moved)
    lifted = lifter.lift(objects, instances, 100_000_000, depth=depth)
    assert [obj.method for obj in lifted] == ['depth', 'depth']
    assert lifted[0].velocity[0] > 4.0 and abs(lifted[0].velocity[1]) < 1.0
    # Without a depth image and without fallback nothing is lifted.
    strict = Lifter(camera, LifterConfig(method='depth', fallback_to_ground_plane=False))
    assert strict.lift(objects, instances, 0) == ()


def test_lidar_lifting_from_masks_dict(camera):
    pytest.importorskip('open3d')
    base_from_lidar = cam.pose_matrix(0.5, 0.0, 1.9)
    points = lidar_scan(base_from_lidar, SCENE, azimuth_step_deg=0.2,
                        elevations_deg=np.arange(-15.0, 3.0, 0.4))
    _, instances, objects = frame(camera, SCENE)
    masks = {track_id: instances == track_id for track_id in TRACK_IDS}
    lifter = Lifter(camera, LifterConfig(method='lidar'))
    lifted = lifter.lift(objects, masks, 0, cloud=LidarCloud(points, base_from_lidar))
    assert [obj.method for obj in lifted] == ['lidar', 'lidar']
    np.testing.assert_allclose(centres(lifted), [c for c, _, _ in SCENE], atol=0.1)
    with pytest.raises(ValueError, match='base_from_lidar'):
        lifter.lift(objects, masks, 0, cloud=points)
    configured = Lifter(camera, LifterConfig(method='lidar', base_from_lidar=base_from_lidar))
    assert len(configured.lift(objects, masks, 0, cloud=points)) == 2


def test_bad_inputs(camera):
    with pytest.raises(ValueError, match='method'):
        LifterConfig(method='radar')
    _, instances, objects = frame(camera, SCENE)
    with pytest.raises(ValueError, match='instance image'):
        Lifter(camera, LifterConfig(method='depth')).lift(
            objects, instances[:10], 0, depth=np.zeros((10, 10), np.float32))
    assert Lifter(camera).lift([], instances, 0) == ()
