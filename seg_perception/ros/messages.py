"""Build the contract's vision_msgs messages from core results."""

from typing import Iterable

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from vision_msgs.msg import (Detection2D, Detection2DArray, LabelInfo, ObjectHypothesisWithPose,
                             VisionClass)
from visualization_msgs.msg import Marker, MarkerArray

from seg_perception import taxonomy
from seg_perception.structures import FrameResult


def label_info_msg(class_ids: Iterable[int], stamp: Time, frame_id: str = '') -> LabelInfo:
    """Return a ``LabelInfo`` naming every canonical class a backend can output.

    Args:
        class_ids: canonical class ids; the message lists them ascending, then 255 'unlabeled'.
        stamp: header stamp (the time the node started: label_info is published once).
        frame_id: header frame id.

    """
    msg = LabelInfo()
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    for class_id in sorted(set(class_ids)):
        msg.class_map.append(
            VisionClass(class_id=class_id, class_name=taxonomy.CLASS_BY_ID[class_id].name))
    msg.class_map.append(
        VisionClass(class_id=taxonomy.UNLABELED, class_name=taxonomy.UNLABELED_NAME))
    msg.threshold = 0.0
    return msg


def detections_msg(result: FrameResult, header: Header) -> Detection2DArray:
    """Return one ``Detection2D`` per tracked object of ``result``.

    ``id`` is the track id (decimal string), ``results[0].hypothesis`` the class name and score,
    ``bbox`` the box centre and size in input-image pixels; every header is ``header``.
    """
    msg = Detection2DArray(header=header)
    for obj in result.objects:
        x_min, y_min, x_max, y_max = obj.bbox
        detection = Detection2D(header=header, id=str(obj.track_id))
        detection.bbox.center.position.x = (x_min + x_max) / 2.0
        detection.bbox.center.position.y = (y_min + y_max) / 2.0
        detection.bbox.size_x = x_max - x_min
        detection.bbox.size_y = y_max - y_min
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = taxonomy.CLASS_BY_ID[obj.class_id].name
        hypothesis.hypothesis.score = float(obj.score)
        detection.results.append(hypothesis)
        msg.detections.append(detection)
    return msg


def markers_msg(result: FrameResult, header: Header, namespace: str,
                plane_depth_m: float = 1.0) -> MarkerArray:
    """Return RViz markers: each object's box outline and a ``class #id`` label.

    Without calibration the markers lie on a plane ``plane_depth_m`` in front of the camera, in
    the optical frame of ``header.frame_id`` (x right, y down, z forward), with a focal length of
    one image width (about a 53 degree field of view): they show where and what, not how far.
    The first marker deletes the previous frame's markers.
    """
    height, width = result.semantic.shape
    focal = float(width)

    def to_plane(u: float, v: float) -> Point:
        return Point(x=(u - width / 2.0) / focal * plane_depth_m,
                     y=(v - height / 2.0) / focal * plane_depth_m, z=plane_depth_m)

    markers = MarkerArray()
    markers.markers.append(Marker(header=header, ns=namespace, action=Marker.DELETEALL))
    for obj in result.objects:
        info = taxonomy.CLASS_BY_ID[obj.class_id]
        colour = ColorRGBA(r=info.color[0] / 255.0, g=info.color[1] / 255.0,
                           b=info.color[2] / 255.0, a=1.0)
        x_min, y_min, x_max, y_max = obj.bbox
        outline = Marker(header=header, ns=namespace, id=2 * obj.track_id,
                         type=Marker.LINE_STRIP, action=Marker.ADD, color=colour)
        outline.scale.x = 0.004 * plane_depth_m
        outline.pose.orientation.w = 1.0
        outline.points = [to_plane(u, v) for u, v in (
            (x_min, y_min), (x_max, y_min), (x_max, y_max), (x_min, y_max), (x_min, y_min))]
        label = Marker(header=header, ns=namespace, id=2 * obj.track_id + 1,
                       type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, color=colour,
                       text=f'{info.name} #{obj.track_id}')
        label.scale.z = 0.03 * plane_depth_m
        label.pose.position = to_plane((x_min + x_max) / 2.0, y_min)
        label.pose.orientation.w = 1.0
        markers.markers.append(outline)
        markers.markers.append(label)
    return markers
