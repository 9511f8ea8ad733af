"""Per-camera 3D lifting of tracked things: what the node calls after the tracker.

Usage (one ``Lifter`` per camera; it keeps the tracks' motion filters)::

    camera = CameraModel.from_camera_info(info.k, info.d, info.width, info.height,
                                          info.distortion_model, pose_matrix(x, y, z, r, p, yw))
    lifter = Lifter(camera, LifterConfig(method='ground_plane'))
    result = pipeline.process(frame)
    objects = lifter.lift(result.objects, result.instances, frame.stamp_ns,
                          depth=None, cloud=None)     # Tuple[Object3D, ...]

``method`` (one per camera) is ``ground_plane`` (monocular, ``ground_plane.lift_boxes``),
``depth`` (aligned depth image, ``depth_lifting.lift_depth``) or ``lidar`` (point cloud,
``cloud_lifting.lift_cloud``). With ``fallback_to_ground_plane`` an object the depth image or
cloud says nothing about (no valid pixels / points in its mask), or a frame without depth /
cloud, is lifted monocularly instead; every ``Object3D`` names the method that produced it.
Velocities come from ``motion.MotionModel`` (constant velocity over base x, y per track id).
All positions are in the ``base`` frame of the camera model (x forward, y left, z up, m).
"""

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from seg_perception import taxonomy
from seg_perception.geometry.boxes import Box3D
from seg_perception.geometry.camera import CameraModel
from seg_perception.geometry.cloud_lifting import CloudLiftConfig, lift_cloud, project_cloud
from seg_perception.geometry.depth_lifting import DepthLiftConfig, lift_depth
from seg_perception.geometry.ground_plane import GroundLiftConfig, lift_boxes, SIZE_PRIORS
from seg_perception.geometry.motion import MotionConfig, MotionModel
from seg_perception.pipeline import instance_value
from seg_perception.structures import TrackedObject

METHODS = ('ground_plane', 'depth', 'lidar')


@dataclass(frozen=True)
class Object3D:
    """One tracked thing in 3D, in the camera model's ``base`` frame.

    Attributes:
        track_id: the tracker's id (the same as in ``instances`` and ``detections``).
        class_id: canonical class id.
        class_name: canonical class name.
        center: (x, y, z) geometric centre of the 3D box, m.
        size: (length, width, height), m: extents along the box's yaw direction, across it,
            and vertically. Monocular boxes have the class prior's size.
        yaw: heading of the box's length about base z, rad. Monocular: the viewing direction
            (not observed); ``yaw`` boxes from depth / LiDAR: known modulo pi / 2.
        velocity: (vx, vy, vz) m/s from the motion model (vz = 0).
        method: ``ground_plane``, ``depth`` or ``lidar``.
        score: the tracked object's score, [0, 1].

    """

    track_id: int
    class_id: int
    class_name: str
    center: Tuple[float, float, float]
    size: Tuple[float, float, float]
    yaw: float
    velocity: Tuple[float, float, float]
    method: str
    score: float


@dataclass(frozen=True)
class LidarCloud:
    """A point cloud with its sensor's pose.

    Attributes:
        points: (N, 3) float x, y, z in the sensor frame, m (a PointCloud2's fields).
        base_from_sensor: (4, 4) the sensor's pose in ``base``.

    """

    points: np.ndarray
    base_from_sensor: np.ndarray


@dataclass(frozen=True)
class LifterConfig:
    """Settings of a camera's lifting.

    Attributes:
        method: ``ground_plane``, ``depth`` or ``lidar``.
        fallback_to_ground_plane: lift monocularly what the sensor gives nothing for.
        base_from_lidar: (4, 4) LiDAR pose in ``base`` used when ``lift`` gets a bare (N, 3)
            cloud; None: clouds must come as ``LidarCloud``.
        monocular_rel_std: position noise of a monocular position for the motion model, as a
            fraction of its distance (about the measured median error on KITTI).
        sensor_std_m: position noise of a depth / LiDAR position, m.
        ground, depth, cloud, motion: settings of each part.

    """

    method: str = 'ground_plane'
    fallback_to_ground_plane: bool = True
    base_from_lidar: Optional[np.ndarray] = None
    monocular_rel_std: float = 0.1
    sensor_std_m: float = 0.3
    ground: GroundLiftConfig = field(default_factory=GroundLiftConfig)
    depth: DepthLiftConfig = field(default_factory=DepthLiftConfig)
    cloud: CloudLiftConfig = field(default_factory=CloudLiftConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f'lifting method {self.method!r} unknown; use one of {METHODS}')
        if self.monocular_rel_std <= 0.0 or self.sensor_std_m <= 0.0:
            raise ValueError('monocular_rel_std and sensor_std_m must be > 0')


Masks = Union[np.ndarray, Mapping[int, np.ndarray]]


class Lifter:
    """Lifts one camera's tracked things to 3D and keeps their motion filters.

    Args:
        camera: the camera model (intrinsics and pose in ``base``).
        config: settings.

    """

    def __init__(self, camera: CameraModel, config: LifterConfig = LifterConfig()):
        self.camera = camera
        self.config = config
        self.motion = MotionModel(config.motion)

    def reset(self) -> None:
        """Forget the motion of every track (e.g. when the tracker resets)."""
        self.motion.reset()

    def lift(self, objects: Sequence[TrackedObject], masks: Masks, stamp_ns: int,
             depth: Optional[np.ndarray] = None,
             cloud: Union[None, np.ndarray, LidarCloud] = None) -> Tuple[Object3D, ...]:
        """Lift one frame's tracked things.

        Args:
            objects: ``FrameResult.objects`` (confirmed tracks in view).
            masks: ``FrameResult.instances`` ((H, W) uint16, track id per pixel as the
                pipeline writes it), or {track_id: (H, W) bool mask}; H, W = the camera's.
            stamp_ns: the frame's stamp, ns.
            depth: (H, W) uint16 mm or float32 m registered to the image (method ``depth``).
            cloud: ``LidarCloud``, or (N, 3) points with ``config.base_from_lidar`` (method
                ``lidar``).

        Returns:
            one ``Object3D`` per object that could be lifted, in the order given.

        """
        objects = list(objects)
        self.motion.prune(stamp_ns)
        if not objects:
            return ()
        boxes = self._sensor_boxes(objects, masks, depth, cloud)
        needs_ground = [i for i, box in enumerate(boxes) if box is None]
        ground = {}
        if needs_ground and (self.config.method == 'ground_plane'
                             or self.config.fallback_to_ground_plane):
            ground = self._ground_boxes([objects[i] for i in needs_ground])
            ground = {needs_ground[k]: box for k, box in ground.items()}
        lifted = []
        for index, obj in enumerate(objects):
            if boxes[index] is not None:
                box, method, std = boxes[index], self.config.method, self.config.sensor_std_m
            elif index in ground:
                box, method = ground[index], 'ground_plane'
                distance = np.linalg.norm(box.centre[:2] - self.camera.origin_base[:2])
                std = max(self.config.monocular_rel_std * distance, 0.1)
            else:
                continue
            _, velocity = self.motion.update(obj.track_id, box.centre[:2], stamp_ns, std)
            lifted.append(Object3D(
                track_id=int(obj.track_id), class_id=int(obj.class_id),
                class_name=_class_name(obj.class_id),
                center=tuple(float(v) for v in box.centre),
                size=tuple(float(v) for v in box.size), yaw=float(box.yaw),
                velocity=(float(velocity[0]), float(velocity[1]), 0.0), method=method,
                score=float(obj.score)))
        return tuple(lifted)

    def _sensor_boxes(self, objects, masks, depth, cloud):
        method = self.config.method
        if method == 'ground_plane' or (method == 'depth' and depth is None) \
                or (method == 'lidar' and cloud is None):
            return [None] * len(objects)
        mask_of = _mask_getter(masks, (self.camera.height, self.camera.width))
        if method == 'depth':
            return [lift_depth(self.camera, depth, mask_of(obj.track_id),
                               SIZE_PRIORS.get(_class_name(obj.class_id)), self.config.depth)
                    for obj in objects]
        if isinstance(cloud, LidarCloud):
            points, pose = cloud.points, cloud.base_from_sensor
        else:
            if self.config.base_from_lidar is None:
                raise ValueError('a bare (N, 3) cloud needs LifterConfig.base_from_lidar; '
                                 'or pass a LidarCloud')
            points, pose = cloud, self.config.base_from_lidar
        projected = project_cloud(self.camera, points, pose)
        return [lift_cloud(self.camera, points, pose, mask_of(obj.track_id),
                           SIZE_PRIORS.get(_class_name(obj.class_id)), self.config.cloud,
                           projected) for obj in objects]

    def _ground_boxes(self, objects: Sequence[TrackedObject]) -> Dict[int, Box3D]:
        names = [_class_name(obj.class_id) for obj in objects]
        result = lift_boxes(self.camera, np.array([obj.bbox for obj in objects]), names,
                            self.config.ground)
        origin = self.camera.origin_base
        boxes = {}
        for index, name in enumerate(names):
            if not result.valid[index]:
                continue
            prior = SIZE_PRIORS.get(name)
            centre = result.centres[index].copy()
            size = np.zeros(3) if prior is None else np.array(
                [prior.length, prior.width, prior.height])
            if prior is not None and prior.on_ground:
                centre[2] += prior.height / 2.0
            yaw = float(np.arctan2(centre[1] - origin[1], centre[0] - origin[0]))
            boxes[index] = Box3D(centre=centre, size=size, yaw=yaw, num_points=0)
        return boxes


def _class_name(class_id: int) -> str:
    info = taxonomy.CLASS_BY_ID.get(int(class_id))
    return info.name if info is not None else f'class_{int(class_id)}'


def _mask_getter(masks: Masks, shape: Tuple[int, int]):
    """Return track_id -> (H, W) bool mask for an instance image or a dict of masks."""
    if isinstance(masks, Mapping):
        def from_dict(track_id):
            mask = masks.get(track_id)
            if mask is None:
                return np.zeros(shape, dtype=bool)
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != shape:
                raise ValueError(f'mask of track {track_id} is {mask.shape}, camera is {shape}')
            return mask
        return from_dict
    instances = np.asarray(masks)
    if instances.shape != shape:
        raise ValueError(f'instance image is {instances.shape}, camera is {shape}')
    return lambda track_id: instances == instance_value(int(track_id))
