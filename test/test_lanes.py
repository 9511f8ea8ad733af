"""Lane lines from lane pixels: grouping, style, ground positions, ego sides and stable ids."""

from fake_segmenters import NoTracker
from lane_scenes import lane_camera, LanePainter, paint_lanes
import numpy as np
import pytest

from seg_perception.lanes.extractor import LaneExtractor
from seg_perception.lanes.ground import lanes_on_ground
from seg_perception.lanes.grouping import group_lane_pixels, LaneGroupingConfig, vanishing_row
from seg_perception.lanes.structures import LaneLine
from seg_perception.lanes.tracker import LaneTracker
from seg_perception.pipeline import Pipeline
from seg_perception.structures import Frame

# (lateral offset m, curvature 1/m, dashed): ego boundaries solid, neighbours dashed.
STRAIGHT = [(1.75, 0.0, False), (-1.75, 0.0, False), (5.25, 0.0, True), (-5.25, 0.0, True)]
CURVED = [(o, 0.002, d) for o, _, d in STRAIGHT]


def _by_offset(lines, camera, at_m=10.0):
    lifted = lanes_on_ground(camera, lines)
    return {round(line.lateral_offset_at(at_m), 1): line for line in lifted}, lifted


@pytest.mark.timeout(60)
@pytest.mark.parametrize('lanes', [STRAIGHT, CURVED], ids=['straight', 'curved'])
def test_ground_positions_at_10_m_within_0_3_m(lanes):
    camera = lane_camera()
    mask = paint_lanes(camera, lanes)
    lines = group_lane_pixels(mask)
    assert len(lines) == 4
    lifted = lanes_on_ground(camera, lines)
    offsets = sorted(line.lateral_offset_at(10.0) for line in lifted)
    truth = sorted(offset + curvature * 100.0 for offset, curvature, _ in lanes)
    assert np.all(np.isfinite(offsets))
    assert np.max(np.abs(np.array(offsets) - truth)) < 0.3
    sides = {line.side: line.lateral_offset_at(10.0) for line in lifted}
    assert abs(sides['ego_left'] - truth[2]) < 0.3
    assert abs(sides['ego_right'] - truth[1]) < 0.3


@pytest.mark.timeout(60)
def test_style_solid_and_dashed():
    camera = lane_camera()
    lines = lanes_on_ground(camera, group_lane_pixels(paint_lanes(camera, STRAIGHT)))
    style = {round(line.lateral_offset_at(10.0)): line.style for line in lines}
    assert style[2] == 'solid' and style[-2] == 'solid'
    assert style[5] == 'dashed' and style[-5] == 'dashed'


@pytest.mark.timeout(60)
def test_ids_stable_while_driving_and_drifting():
    camera = lane_camera()
    extractor = LaneExtractor()
    id_of_line = {}
    for step in range(12):
        lateral = 0.08 * step
        mask = paint_lanes(camera, CURVED, forward_shift=1.7 * step, lateral_shift=lateral)
        lines = extractor.update(mask.shape, lane_mask=mask)
        lifted = lanes_on_ground(camera, lines)
        assert {'ego_left', 'ego_right'} <= {line.side for line in lifted}
        for line in lifted:
            # which painted line is it? nearest true offset at 10 m in the road frame
            road_y = line.lateral_offset_at(10.0) + lateral
            true = min(CURVED, key=lambda lane: abs(lane[0] + lane[1] * 100.0 - road_y))
            id_of_line.setdefault(true[0], set()).add(line.lane_id)
    assert len(id_of_line) == 4  # the dashed neighbours drift out of view at times
    assert all(len(ids) == 1 for ids in id_of_line.values()), id_of_line
    assert len({next(iter(ids)) for ids in id_of_line.values()}) == 4


@pytest.mark.timeout(30)
def test_a_line_gone_for_long_comes_back_with_a_new_id():
    tracker = LaneTracker()
    line = LaneLine((0.5, 100.0), 100.0, 360.0, np.zeros((2, 2)))
    first = tracker.update([line], (360, 640))[0].lane_id
    assert tracker.update([line], (360, 640))[0].lane_id == first
    for _ in range(tracker.config.max_missed + 1):
        tracker.update([], (360, 640))
    assert tracker.update([line], (360, 640))[0].lane_id != first


@pytest.mark.timeout(30)
def test_stop_lines_and_specks_are_not_lanes():
    mask = np.zeros((360, 640), dtype=bool)
    mask[300:306, 100:540] = True   # a stop line across the road
    mask[50, 50] = True             # a speck
    assert group_lane_pixels(mask) == []
    with pytest.raises(ValueError):
        group_lane_pixels(np.zeros((2, 2, 2)))


@pytest.mark.timeout(60)
def test_pipeline_outputs_tracked_lanes_per_camera():
    camera = lane_camera()
    pipeline = Pipeline(LanePainter(camera, STRAIGHT), NoTracker)
    image = np.zeros((camera.height, camera.width, 3), dtype=np.uint8)
    ids = []
    for step in range(3):
        result = pipeline.process(Frame(image, stamp_ns=step, camera='/cam'))
        assert len(result.lanes) == 4
        assert 'lanes' in result.timings_ms
        ids.append(sorted(line.lane_id for line in result.lanes))
        # lines are in input pixels although the backend worked at half size
        assert all(line.y_bottom == pytest.approx(camera.height) for line in result.lanes
                   if line.side != 'other')
    assert ids[0] == ids[1] == ids[2]
    other = pipeline.process(Frame(image, stamp_ns=0, camera='/other'))
    assert min(line.lane_id for line in other.lanes) == 1  # its own lane tracker


@pytest.mark.timeout(30)
def test_lines_are_extended_toward_the_vanishing_row():
    camera = lane_camera()
    mask = paint_lanes(camera, STRAIGHT, far=25.0)  # paint ends 25 m ahead
    plain = group_lane_pixels(mask, config=LaneGroupingConfig(extend_up=0.0))
    extended = group_lane_pixels(mask, config=LaneGroupingConfig(extend_up=0.5))
    horizon = vanishing_row(plain)
    # the straight lines meet at the camera's horizon row: cy - f * tan(pitch)
    assert horizon == pytest.approx(180.0 - 512.0 * np.tan(0.03), abs=3.0)
    for before, after in zip(plain, extended):
        assert after.y_top == pytest.approx(before.y_top - 0.5 * (before.y_top - horizon))
        assert after.y_bottom == before.y_bottom


@pytest.mark.timeout(60)
def test_lane_tracks_reset_with_the_object_tracker_when_time_goes_back():
    from seg_perception.tracking.tracker import Tracker
    camera = lane_camera()
    pipeline = Pipeline(LanePainter(camera, STRAIGHT), Tracker)
    image = np.zeros((camera.height, camera.width, 3), dtype=np.uint8)
    first = pipeline.process(Frame(image, stamp_ns=2_000_000_000, camera='/cam'))
    again = pipeline.process(Frame(image, stamp_ns=2_100_000_000, camera='/cam'))
    assert {line.lane_id for line in again.lanes} <= {line.lane_id for line in first.lanes}
    back = pipeline.process(Frame(image, stamp_ns=1_000_000_000, camera='/cam'))
    assert back.warnings  # the object tracker reset (stamp went back) ...
    assert not {line.lane_id for line in back.lanes} & {line.lane_id for line in first.lanes}


def test_the_fast_median_is_numpys_median():
    from seg_perception.lanes.grouping import _median
    rng = np.random.default_rng(5)
    for size in (1, 2, 3, 4, 7, 10, 61, 200):
        values = rng.normal(0.0, 50.0, size)
        assert _median(values) == float(np.median(values))
    assert _median(np.array([3.0, 1.0, 2.0, 2.0])) == 2.0


def test_row_samples_are_each_pieces_mean_column_per_row():
    from scipy import ndimage
    from seg_perception.lanes.grouping import _row_samples
    rng = np.random.default_rng(11)
    mask = np.zeros((120, 200), bool)
    mask[10:60, 20:23] = True  # a thin line
    mask[30:90, 100:104] = True
    mask[50, 100:140] = True  # a row wider than max_row_width: not used
    mask[70:72, 150:152] = True  # 4 pixels: below the smallest piece kept
    mask[100:118, 160:190] |= rng.random((18, 30)) < 0.7  # a noisy blob (8-connected)
    config = LaneGroupingConfig(min_piece_px=5 / mask.size, max_row_width=0.1)
    chains = _row_samples(mask, 2.0, 3.0, config)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    expected = []
    for label in range(1, count + 1):
        piece = labels == label
        if piece.sum() < 5:
            continue
        rows = [r for r in np.flatnonzero(piece.any(axis=1)) if piece[r].sum() <= 20]
        expected.append(((np.array(rows) + 0.5) * 3.0,
                         [(np.flatnonzero(piece[r]).mean() + 0.5) * 2.0 for r in rows],
                         [piece[r].sum() for r in rows]))
    assert len(chains) == len(expected) == 3
    for chain in chains:  # OpenCV numbers pieces in its own order: match by first row
        ys, xs, weights = next(e for e in expected if e[0][0] == chain.ys[0])
        np.testing.assert_array_equal(chain.ys, ys)
        np.testing.assert_allclose(chain.xs, xs, rtol=1e-12)
        np.testing.assert_array_equal(chain.weights, weights)
    assert 50.5 * 3.0 not in next(c for c in chains if c.ys[0] == 30.5 * 3.0).ys


def test_the_fast_slope_is_numpys_derivative_value():
    from seg_perception.lanes.grouping import _slope
    rng = np.random.default_rng(7)
    for degree in range(4):
        for _ in range(200):
            coefficients = rng.normal(0.0, 10.0, degree + 1) * 10.0 ** rng.integers(-6, 3)
            y = float(rng.uniform(-100.0, 2000.0))
            expected = float(np.polyval(np.polyder(coefficients), y)) if degree else 0.0
            assert _slope(coefficients, y) == expected
