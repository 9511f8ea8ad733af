"""Synthetic lane scenes: painted lines on a flat ground seen by a known camera."""

import cv2
import numpy as np

from seg_perception import taxonomy
from seg_perception.backends.base import Segmenter
from seg_perception.geometry.camera import CameraModel, pose_matrix
from seg_perception.structures import PanopticResult


def lane_camera(width=640, height=360, pitch=0.03, camera_height=1.5):
    """Return a forward camera (f = 0.8 * width) ``camera_height`` m up, ``pitch`` rad down."""
    focal = 0.8 * width
    k = [focal, 0.0, width / 2.0, 0.0, focal, height / 2.0, 0.0, 0.0, 1.0]
    return CameraModel.from_camera_info(
        k, [], width, height, 'none',
        base_from_body=pose_matrix(1.0, 0.0, camera_height, 0.0, pitch, 0.0))


def paint_lanes(camera, lanes, forward_shift=0.0, lateral_shift=0.0, paint_width=0.15,
                near=3.0, far=60.0, dash=3.0, gap=9.0):
    """Return an (H, W) bool mask of painted lines on the ground.

    Args:
        camera: the camera.
        lanes: (offset_m, curvature, dashed) per line: the line is at lateral
            ``y = offset + curvature * x ** 2`` in the road frame.
        forward_shift: how far the vehicle has driven, m (moves the dashes).
        lateral_shift: the vehicle's lateral position in the road, m (left positive).
        paint_width, near, far, dash, gap: paint geometry, m.

    """
    mask = np.zeros((camera.height, camera.width), dtype=np.uint8)
    xs = np.arange(near, far, 0.25)
    for offset, curvature, dashed in lanes:
        for x0, x1 in zip(xs[:-1], xs[1:]):
            if dashed and ((x0 + forward_shift) % (dash + gap)) >= dash:
                continue
            corners = []
            for x, side in ((x0, -1), (x1, -1), (x1, 1), (x0, 1)):
                y = offset + curvature * x ** 2 - lateral_shift + side * paint_width / 2.0
                corners.append((x, y, 0.0))
            uv, valid = camera.project_base(np.array(corners))
            if valid.all():
                cv2.fillPoly(mask, [np.round(uv * 8).astype(np.int32)], 1, cv2.LINE_8, 3)
    return mask.astype(bool)


class LanePainter(Segmenter):
    """Road with painted lane lines as lane_marking, at half size; the dashes move each frame."""

    name = 'lane_painter'

    def __init__(self, camera, lanes):
        self.camera = camera
        self.lanes = lanes
        self.step = 0

    @property
    def class_ids(self):
        return tuple(sorted((taxonomy.class_id('road'), taxonomy.class_id('lane_marking'))))

    def segment(self, images):
        results = []
        for _ in images:
            mask = paint_lanes(self.camera, self.lanes, forward_shift=2.0 * self.step)
            self.step += 1
            semantic = np.full(mask.shape, taxonomy.class_id('road'), dtype=np.uint8)
            semantic[mask] = taxonomy.class_id('lane_marking')
            semantic = semantic[::2, ::2].copy()
            results.append(PanopticResult(semantic, np.zeros(semantic.shape, dtype=np.int32)))
        return tuple(results)
