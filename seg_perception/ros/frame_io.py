"""Camera message in, output messages out: the conversions the node and bag processing share."""

from typing import Dict, Optional, Sequence

from std_msgs.msg import Header

from seg_perception.overlay import object_labels, render_overlay
from seg_perception.ros.conversions import (array_to_image_msg, compressed_msg_to_rgb,
                                            image_msg_to_rgb, stamp_to_ns)
from seg_perception.ros.lane_messages import lane_markers, lanes_available, lanes_msg
from seg_perception.ros.messages import detections_msg, markers_msg
from seg_perception.ros.messages_3d import markers_3d, objects_3d_msg
from seg_perception.structures import Frame, FrameResult


def frame_from_msg(msg, compressed: bool, camera: str) -> Frame:
    """Return the ``Frame`` of an Image (``compressed`` False) or CompressedImage message.

    Raises:
        ImageConversionError: the message cannot be decoded (the reason is in the message).
        ValueError: the decoded image is not a valid frame.

    """
    rgb = compressed_msg_to_rgb(msg) if compressed else image_msg_to_rgb(msg)
    return Frame(image=rgb, stamp_ns=stamp_to_ns(msg.header.stamp),
                 frame_id=msg.header.frame_id, camera=camera)


def result_messages(result: FrameResult, header: Header, namespace: str,
                    overlay_alpha: Optional[float] = None, with_markers: bool = True,
                    objects_3d: Optional[Sequence] = None, base_frame: str = 'base_link',
                    lanes: Optional[Sequence] = None) -> Dict[str, object]:
    """Return output name -> message for one frame: what the node publishes and bags hold.

    Args:
        result: the pipeline's result for the frame.
        header: the input message's header (copied exactly).
        namespace: the camera namespace (marker namespace).
        overlay_alpha: colour weight of the overlay, which also shows each tracked object's box
            and ``class #id``; None = no overlay (it costs a render).
        with_markers: build the RViz markers too.
        objects_3d: the frame's lifted objects (``geometry.lifter.Object3D``), or None when
            the camera is not lifted (yet); they add ``objects_3d`` and 3D markers.
        base_frame: frame of the 3D outputs and of the lane lines' ground points.
        lanes: the frame's lane lines with ground points; default ``result.lanes``.

    Returns:
        ``semantic``, ``instances``, ``detections``, ``lanes`` (when ``seg_perception_msgs`` is
        built), and ``markers`` / ``overlay`` / ``objects_3d`` when asked for.

    """
    outputs = {
        'semantic': array_to_image_msg(result.semantic, header, 'mono8'),
        'instances': array_to_image_msg(result.instances, header, 'mono16'),
        'detections': detections_msg(result, header),
    }
    lanes = result.lanes if lanes is None else lanes
    if lanes_available():
        outputs['lanes'] = lanes_msg(lanes, header, base_frame)
    if with_markers:
        outputs['markers'] = markers_msg(result, header, namespace)
        outputs['markers'].markers.extend(
            lane_markers(lanes, header, namespace, base_frame, result.semantic.shape))
    if overlay_alpha is not None:
        overlay = render_overlay(result.frame.image, result.semantic, result.instances,
                                 overlay_alpha, object_labels(result.objects))
        outputs['overlay'] = array_to_image_msg(overlay, header, 'rgb8')
    if objects_3d is not None:
        outputs['objects_3d'] = objects_3d_msg(objects_3d, header, base_frame)
        if with_markers:
            outputs['markers'].markers.extend(
                markers_3d(objects_3d, header, base_frame, namespace))
    return outputs
