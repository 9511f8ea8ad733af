"""Lane lines as ROS messages: ``seg_perception_msgs/LaneArray`` and LINE_STRIP markers.

``seg_perception_msgs`` is the project's own interface package (``third_party/``, built by
``scripts/setup.sh``). Where it is not built, ``lanes_available()`` is False and the node and
``process`` leave the ``lanes`` output out (markers still show the lanes).
"""

from typing import List, Sequence, Tuple

from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from seg_perception.lanes.structures import LaneLine

try:
    from seg_perception_msgs.msg import Lane, LaneArray
except ImportError:  # not built here: lanes go out as markers only
    Lane = LaneArray = None

#: ``LaneLine.style`` / ``side`` -> the message constants.
STYLE_CODES = {'unknown': 0, 'solid': 1, 'dashed': 2}
SIDE_CODES = {'other': 0, 'ego_left': 1, 'ego_right': 2}
#: Marker colours (r, g, b): ego-lane boundaries yellow, other lines white.
_EGO_COLOUR = (1.0, 0.85, 0.0)
_OTHER_COLOUR = (1.0, 1.0, 1.0)


def lanes_available() -> bool:
    """Return True when ``seg_perception_msgs`` is importable."""
    return LaneArray is not None


def lanes_msg(lanes: Sequence[LaneLine], header: Header, base_frame: str):
    """Return a ``LaneArray`` with the input ``header``; ground points are in ``base_frame``.

    Raises:
        RuntimeError: ``seg_perception_msgs`` is not built.

    """
    if LaneArray is None:
        raise RuntimeError('seg_perception_msgs is not built (scripts/setup.sh builds it)')
    msg = LaneArray(header=header, base_frame=base_frame)
    for line in lanes:
        lane = Lane(id=int(line.lane_id), style=STYLE_CODES[line.style],
                    side=SIDE_CODES[line.side], confidence=float(line.confidence),
                    curve_coefficients=[float(c) for c in line.coefficients],
                    y_top=float(line.y_top), y_bottom=float(line.y_bottom))
        lane.image_points = [Point(x=float(x), y=float(y), z=0.0) for x, y in line.image_points]
        lane.ground_points = [Point(x=float(x), y=float(y), z=float(z))
                              for x, y, z in line.ground_points]
        msg.lanes.append(lane)
    return msg


def lane_markers(lanes: Sequence[LaneLine], header: Header, namespace: str, base_frame: str,
                 image_size: Tuple[int, int], plane_depth_m: float = 1.0) -> List[Marker]:
    """Return one LINE_STRIP (marker id = lane id) and one ``lane #id`` label per lane line.

    Lines with ground points are drawn on the ground in ``base_frame``; others on the plane
    ``plane_depth_m`` in front of the camera in the optical frame of ``header`` (as the 2D
    markers are). Marker namespace ``<namespace>/lanes``.
    """
    height, width = image_size
    focal = float(width)
    ns = f'{namespace}/lanes'
    markers = []
    for line in lanes:
        colour_rgb = _EGO_COLOUR if line.side != 'other' else _OTHER_COLOUR
        colour = ColorRGBA(r=colour_rgb[0], g=colour_rgb[1], b=colour_rgb[2], a=1.0)
        on_ground = line.ground_points.shape[0] >= 2
        if on_ground:
            marker_header = Header(stamp=header.stamp, frame_id=base_frame)
            points = [Point(x=float(x), y=float(y), z=float(z))
                      for x, y, z in line.ground_points]
            width_m = 0.15
        else:
            marker_header = header
            points = [Point(x=(x - width / 2.0) / focal * plane_depth_m,
                            y=(y - height / 2.0) / focal * plane_depth_m, z=plane_depth_m)
                      for x, y in line.image_points]
            width_m = 0.004 * plane_depth_m
        strip = Marker(header=marker_header, ns=ns, id=2 * int(line.lane_id),
                       type=Marker.LINE_STRIP, action=Marker.ADD, color=colour, points=points)
        strip.scale.x = width_m
        strip.pose.orientation.w = 1.0
        label = Marker(header=marker_header, ns=ns, id=2 * int(line.lane_id) + 1,
                       type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, color=colour,
                       text=f'lane #{line.lane_id} {line.style}')
        label.pose.position = points[-1]
        label.pose.orientation.w = 1.0
        label.scale.z = 0.5 if on_ground else 0.03 * plane_depth_m
        markers += [strip, label]
    return markers
