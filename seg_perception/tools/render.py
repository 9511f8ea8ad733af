"""Render a result bag of ``process`` (or a recording of the node) as a video or PNG sequence.

Frames come from <NS>/segmentation/overlay when the bag has it; otherwise they are recomputed
from <NS>/segmentation/semantic and instances, blended over the camera image when the bag holds
it (see process --include-inputs), with each tracked object's box, class name and id from
<NS>/segmentation/detections (the node's overlay has them already). Each lane line's image
points and ``#id`` are drawn from <NS>/segmentation/lanes when the bag has them. OUT ending in
.mp4 or .avi is a video; anything else a folder of PNGs (000000.png, ...).
"""

import argparse
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

from seg_perception import topics
from seg_perception.overlay import draw_box_labels, render_overlay
from seg_perception.ros import bag_io, result_bag as result_bag_io

VIDEO_SUFFIXES = ('.mp4', '.avi')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception render``."""
    parser.add_argument('result_bag', type=Path, help='rosbag2 folder written by process')
    parser.add_argument('out', type=Path, help='video file (.mp4, .avi) or PNG folder')
    parser.add_argument('--topic', default=None, metavar='NS',
                        help='camera namespace, e.g. /camera (default: the only one in the bag)')
    parser.add_argument('--fps', type=float, default=0.0,
                        help='video frame rate (default: from the stamps, else 10)')
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='class colour weight when recomputing the overlay')


def _input_topic(reader, namespace: str) -> Optional[Tuple[str, str]]:
    for connection in reader.connections:
        if connection.msgtype in bag_io.CAMERA_TYPES and '/segmentation/' not in connection.topic \
                and topics.camera_namespace(connection.topic) == namespace:
            return connection.topic, connection.msgtype
    return None


def _camera_rgb(msg, msgtype: str) -> np.ndarray:
    if msgtype == bag_io.COMPRESSED_TYPE:
        bgr = cv2.imdecode(np.asarray(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError('cannot decode compressed camera image')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    pixels = bag_io.image_to_array(msg)
    return pixels if pixels.ndim == 3 else cv2.cvtColor(
        pixels.astype(np.uint8), cv2.COLOR_GRAY2RGB)


def draw_detections(rgb: np.ndarray, detections) -> np.ndarray:
    """Draw each detection's box and ``class #id`` on (H, W, 3) uint8 RGB (in place)."""
    labels = []
    for det in detections.detections:
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        half_w, half_h = det.bbox.size_x / 2, det.bbox.size_y / 2
        name = det.results[0].hypothesis.class_id if det.results else '?'
        labels.append(((cx - half_w, cy - half_h, cx + half_w, cy + half_h), f'{name} #{det.id}'))
    return draw_box_labels(rgb, labels)


def draw_lanes(rgb: np.ndarray, lanes) -> np.ndarray:
    """Draw each lane's image polyline and ``#id`` on (H, W, 3) uint8 RGB (in place).

    ``lanes`` is a ``seg_perception_msgs/LaneArray``; the ego lane's boundaries (side 1, 2) are
    yellow, other lines cyan; dashed lines are drawn dashed.
    """
    for lane in lanes.lanes:
        points = np.array([(p.x, p.y) for p in lane.image_points], dtype=np.float64)
        if points.shape[0] < 2:
            continue
        colour = (255, 215, 0) if int(lane.side) in (1, 2) else (0, 255, 255)
        pixels = np.round(points).astype(np.int32)
        if int(lane.style) == 2:  # dashed
            for index in range(0, pixels.shape[0] - 1, 2):
                cv2.line(rgb, tuple(pixels[index]), tuple(pixels[index + 1]), colour, 2,
                         cv2.LINE_AA)
        else:
            cv2.polylines(rgb, [pixels.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        top = pixels[np.argmin(pixels[:, 1])]
        cv2.putText(rgb, f'#{lane.id}', (int(top[0]), max(int(top[1]) - 4, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return rgb


def render_frames(result_bag: Path, namespace: Optional[str] = None,
                  alpha: float = 0.5) -> List[Tuple[int, np.ndarray]]:
    """Return (header stamp ns, (H, W, 3) uint8 RGB) per frame of a result bag, stamp order.

    Raises:
        BagError: no outputs for the camera, or neither overlay nor semantic+instances.

    """
    with bag_io.open_reader(result_bag) as reader:
        namespace = result_bag_io.pick_namespace(reader, namespace)
        names = topics.output_topics(namespace + '/image')
        wanted = {name: names[name]
                  for name in ('overlay', 'semantic', 'instances', 'detections', 'lanes')}
        camera = _input_topic(reader, namespace)
        if camera is not None:
            wanted['camera'] = camera[0]
        messages = result_bag_io.read_topics(reader, wanted)
    frames = []
    if messages['overlay']:
        for stamp, msg in sorted(messages['overlay'].items()):
            frames.append((stamp, bag_io.image_to_array(msg)))
    elif messages['semantic'] and messages['instances']:
        for stamp, semantic_msg in sorted(messages['semantic'].items()):
            if stamp not in messages['instances']:
                continue
            semantic = bag_io.image_to_array(semantic_msg)
            instances = bag_io.image_to_array(messages['instances'][stamp])
            image_msg = messages.get('camera', {}).get(stamp)
            if image_msg is not None:
                image, weight = _camera_rgb(image_msg, camera[1]), alpha
            else:
                image, weight = np.zeros(semantic.shape + (3,), np.uint8), 1.0
            rgb = render_overlay(image, semantic, instances, weight)
            if stamp in messages['detections']:  # the node's overlay has them drawn already
                draw_detections(rgb, messages['detections'][stamp])
            frames.append((stamp, rgb))
    else:
        raise bag_io.BagError(f'{result_bag}: no overlay and no semantic + instances messages '
                              f'under {namespace}/segmentation')
    for stamp, rgb in frames:
        if stamp in messages['lanes']:
            draw_lanes(rgb, messages['lanes'][stamp])
    return frames


def write_output(frames: List[Tuple[int, np.ndarray]], out: Path, fps: float = 0.0) -> str:
    """Write frames as a video (``out`` ends in .mp4 / .avi) or PNGs in folder ``out``."""
    out = Path(out)
    if out.suffix.lower() in VIDEO_SUFFIXES:
        if fps <= 0:
            gaps = np.diff([stamp for stamp, _ in frames])
            gaps = gaps[gaps > 0]
            fps = 1e9 / float(np.median(gaps)) if gaps.size else 10.0
        height, width = frames[0][1].shape[:2]
        codec = 'mp4v' if out.suffix.lower() == '.mp4' else 'MJPG'
        out.parent.mkdir(parents=True, exist_ok=True)
        video = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
        if not video.isOpened():
            raise ValueError(f'cannot open video writer for {out}')
        for _, rgb in frames:
            if rgb.shape[:2] != (height, width):
                rgb = cv2.resize(rgb, (width, height))
            video.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        video.release()
        return f'video {out} ({len(frames)} frames, {fps:.2f} fps)'
    out.mkdir(parents=True, exist_ok=True)
    for index, (_, rgb) in enumerate(frames):
        cv2.imwrite(str(out / f'{index:06d}.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return f'{len(frames)} PNGs in {out}'


def run(args: argparse.Namespace) -> int:
    """Run ``seg-perception render``."""
    frames = render_frames(args.result_bag, args.topic, args.alpha)
    if not frames:
        raise bag_io.BagError(f'{args.result_bag} has no frames to render')
    print(f'wrote {write_output(frames, args.out, args.fps)}')
    return 0
