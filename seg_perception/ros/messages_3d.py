"""3D outputs: vision_msgs/Detection3DArray and RViz markers of lifted objects.

Objects come from ``seg_perception.geometry.lifter.Lifter`` (``Object3D``): positions in the
``base`` frame (x forward, y left, z up, m), yaw about z, velocity in m/s.
"""

import math
from typing import Iterable, List

from geometry_msgs.msg import Point, Quaternion
from std_msgs.msg import ColorRGBA, Header
from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker

from seg_perception import taxonomy

#: Speeds below this (m/s) get no velocity arrow.
MIN_ARROW_SPEED_MPS = 0.2


def base_header(header: Header, base_frame: str) -> Header:
    """Return the input header's stamp with ``base_frame`` as frame_id."""
    return Header(stamp=header.stamp, frame_id=base_frame)


def yaw_quaternion(yaw: float) -> Quaternion:
    """Return the rotation by ``yaw`` radians about z."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def objects_3d_msg(objects: Iterable, header: Header, base_frame: str) -> Detection3DArray:
    """Return one Detection3D per lifted object, all in ``base_frame`` with the input's stamp.

    ``id`` is the track id (decimal string, as in ``detections``); ``results[0]`` holds the
    class name, score and centre; ``bbox`` the centre, yaw and size (x = length along the yaw,
    y = width, z = height, m).
    """
    out_header = base_header(header, base_frame)
    msg = Detection3DArray(header=out_header)
    for obj in objects:
        detection = Detection3D(header=out_header, id=str(obj.track_id))
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = obj.class_name
        hypothesis.hypothesis.score = float(obj.score)
        hypothesis.pose.pose.position = Point(x=obj.center[0], y=obj.center[1], z=obj.center[2])
        hypothesis.pose.pose.orientation = yaw_quaternion(obj.yaw)
        detection.results.append(hypothesis)
        detection.bbox.center.position = hypothesis.pose.pose.position
        detection.bbox.center.orientation = hypothesis.pose.pose.orientation
        detection.bbox.size.x, detection.bbox.size.y, detection.bbox.size.z = (
            float(v) for v in obj.size)
        msg.detections.append(detection)
    return msg


def markers_3d(objects: Iterable, header: Header, base_frame: str,
               namespace: str) -> List[Marker]:
    """Return a box, a ``class #id  speed`` label and a velocity arrow per lifted object.

    Markers are in ``base_frame`` with the input's stamp, in the ``<namespace>/3d`` marker
    namespace; marker ids are 3 * track id + 0 (box), 1 (label), 2 (arrow).
    """
    out_header = base_header(header, base_frame)
    ns = f'{namespace}/3d'
    markers = []
    for obj in objects:
        info = taxonomy.CLASS_BY_ID[obj.class_id]
        colour = ColorRGBA(r=info.color[0] / 255.0, g=info.color[1] / 255.0,
                           b=info.color[2] / 255.0, a=0.5)
        centre = Point(x=obj.center[0], y=obj.center[1], z=obj.center[2])
        box = Marker(header=out_header, ns=ns, id=3 * obj.track_id, type=Marker.CUBE,
                     action=Marker.ADD, color=colour)
        box.pose.position = centre
        box.pose.orientation = yaw_quaternion(obj.yaw)
        box.scale.x, box.scale.y, box.scale.z = (max(float(v), 0.01) for v in obj.size)
        speed = math.hypot(obj.velocity[0], obj.velocity[1])
        label = Marker(header=out_header, ns=ns, id=3 * obj.track_id + 1,
                       type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                       color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
                       text=f'{obj.class_name} #{obj.track_id}  {speed:.1f} m/s')
        label.pose.position = Point(x=centre.x, y=centre.y, z=centre.z + obj.size[2] / 2 + 0.5)
        label.pose.orientation.w = 1.0
        label.scale.z = 0.6
        markers += [box, label]
        if speed >= MIN_ARROW_SPEED_MPS:
            arrow = Marker(header=out_header, ns=ns, id=3 * obj.track_id + 2,
                           type=Marker.ARROW, action=Marker.ADD,
                           color=ColorRGBA(r=colour.r, g=colour.g, b=colour.b, a=1.0))
            arrow.pose.orientation.w = 1.0
            arrow.points = [centre, Point(x=centre.x + obj.velocity[0],
                                          y=centre.y + obj.velocity[1], z=centre.z)]
            # shaft diameter, head diameter, head length
            arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.15, 0.3, 0.3
            markers.append(arrow)
    return markers
