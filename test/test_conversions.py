"""sensor_msgs <-> numpy conversions, including every kind of malformed message."""

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from seg_perception.ros.conversions import (array_to_image_msg, compressed_msg_to_rgb,
                                            image_msg_to_rgb, ImageConversionError,
                                            message_backed_array, MessageBufferPool)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)


def _image(pixels: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> Image:
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    if pad:
        rows = np.hstack([rows, np.zeros((rows.shape[0], pad), np.uint8)])
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                is_bigendian=int(bigendian), step=rows.shape[1])
    msg.data = rows.tobytes()
    return msg


@pytest.mark.parametrize('encoding, pixels', [
    ('rgb8', RGB),
    ('bgr8', RGB[:, :, ::-1]),
    ('rgba8', np.dstack([RGB, np.full(RGB.shape[:2], 9, np.uint8)])),
    ('bgra8', np.dstack([RGB[:, :, ::-1], np.full(RGB.shape[:2], 9, np.uint8)])),
])
def test_colour_encodings_give_the_same_rgb(encoding, pixels):
    out = image_msg_to_rgb(_image(np.ascontiguousarray(pixels), encoding))
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3)
    np.testing.assert_array_equal(out, RGB)


def test_row_padding_is_skipped():
    np.testing.assert_array_equal(image_msg_to_rgb(_image(RGB, 'rgb8', pad=3)), RGB)


def test_mono8_and_big_endian_mono16_become_grey_rgb():
    grey = RNG.integers(0, 256, (4, 3), dtype=np.uint8)
    out = image_msg_to_rgb(_image(grey, 'mono8'))
    np.testing.assert_array_equal(out, np.dstack([grey] * 3))
    wide = (grey.astype(np.uint16) * 256 + 7).astype('>u2')
    out16 = image_msg_to_rgb(_image(wide, 'mono16', bigendian=True))
    np.testing.assert_array_equal(out16[:, :, 0], grey)


@pytest.mark.parametrize('change, reason', [
    (dict(encoding='32FC1'), "unsupported encoding '32FC1'"),
    (dict(width=0), 'zero size'),
    (dict(height=0), 'zero size'),
    (dict(step=14), 'step 14 is smaller than'),
    (dict(data=bytes(20)), 'truncated'),
    (dict(height=100000, width=100000, step=300000), 'exceeds'),
])
def test_malformed_images_raise_a_clear_reason(change, reason):
    msg = _image(RGB, 'rgb8')
    for field, value in change.items():
        setattr(msg, field, value)
    with pytest.raises(ImageConversionError, match=reason):
        image_msg_to_rgb(msg)


def test_jpeg_and_png_decode_and_corrupt_data_is_rejected():
    ok, png = cv2.imencode('.png', cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    msg = CompressedImage(format='png')
    msg.data = png.tobytes()
    np.testing.assert_array_equal(compressed_msg_to_rgb(msg), RGB)
    msg.data = b'\xff\xd8\xff\xe0 not really a jpeg'
    with pytest.raises(ImageConversionError, match='cannot decode'):
        compressed_msg_to_rgb(msg)
    msg.data = b''
    with pytest.raises(ImageConversionError, match='no data'):
        compressed_msg_to_rgb(msg)


def test_outputs_keep_header_and_encode_masks():
    header = Header(frame_id='cam_optical')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    labels = RNG.integers(0, 255, (6, 5), dtype=np.uint8)
    msg = array_to_image_msg(labels, header, 'mono8')
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == \
        (12, 345, 'cam_optical')
    assert (msg.encoding, msg.height, msg.width, msg.step) == ('mono8', 6, 5, 5)
    ids = RNG.integers(0, 65535, (6, 5), dtype=np.uint16)
    msg16 = array_to_image_msg(ids, header, 'mono16')
    assert (msg16.encoding, msg16.step, msg16.is_bigendian) == ('mono16', 10, 0)
    decoded = np.frombuffer(bytes(msg16.data), '<u2').reshape(6, 5)
    np.testing.assert_array_equal(decoded, ids)
    with pytest.raises(ValueError, match='mono16 needs'):
        array_to_image_msg(labels, header, 'mono16')


def test_odd_width_422_image_is_rejected_with_the_reason():
    msg = _image(np.zeros((2, 3, 2), np.uint8), 'uyvy')
    with pytest.raises(ImageConversionError, match='uyvy image 3x2 cannot be converted'):
        image_msg_to_rgb(msg)


def test_a_message_backed_array_becomes_the_message_data_without_a_copy():
    from rclpy.serialization import deserialize_message, serialize_message
    header = Header(frame_id='cam_optical')
    ids = message_backed_array((6, 5), np.uint16)
    assert ids.dtype == np.uint16 and not ids.any()  # zero-filled
    ids[:] = RNG.integers(0, 65535, (6, 5), dtype=np.uint16)
    msg = array_to_image_msg(ids, header, 'mono16')
    ids[0, 0] = 7  # the message shares the array's memory
    assert np.frombuffer(msg.data, '<u2')[0] == 7
    decoded = deserialize_message(serialize_message(msg), Image)
    assert (decoded.encoding, decoded.height, decoded.width, decoded.step) == \
        ('mono16', 6, 5, 10)
    np.testing.assert_array_equal(np.frombuffer(bytes(decoded.data), '<u2').reshape(6, 5), ids)
    # A part of such an array, or a plain array, is copied: later writes do not reach it.
    for pixels in (ids[1:], ids[:, :3], RNG.integers(0, 255, (4, 4), dtype=np.uint8)):
        encoding = 'mono16' if pixels.dtype == np.uint16 else 'mono8'
        msg = array_to_image_msg(pixels, header, encoding)
        before = bytes(msg.data)
        pixels[0, 0] += 1
        assert bytes(msg.data) == before


def test_the_buffer_pool_reuses_a_buffer_only_when_nothing_refers_to_it():
    header = Header(frame_id='cam_optical')
    pool = MessageBufferPool(keep=2)
    first = pool((4, 6), np.uint16)
    first[:] = 7
    address = first.__array_interface__['data'][0]
    msg = array_to_image_msg(first, header, 'mono16')
    del first
    second = pool((4, 6), np.uint16)  # the message still holds the first buffer
    assert second.__array_interface__['data'][0] != address
    assert set(np.frombuffer(msg.data, '<u2')) == {7}
    del msg
    third = pool((6, 4), np.uint16)  # same byte size, now free: reused as it was
    assert third.__array_interface__['data'][0] == address
    assert third.shape == (6, 4) and (third == 7).all()
    view = third[1:]
    del third
    assert pool((4, 6), np.uint16).__array_interface__['data'][0] not in (
        address, second.__array_interface__['data'][0])  # a view keeps it too; not kept
    assert pool((2, 2), np.uint8).shape == (2, 2) and view.base is not None
