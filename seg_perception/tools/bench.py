"""``seg-perception bench``: the benchmark table (node overhead beside the network's own time)."""

import argparse
import json
from pathlib import Path
import sys
import tempfile
from typing import Dict, List, Optional

from seg_perception import paths
from seg_perception.tools.bench_drive import VARIANTS as DRIVE_VARIANTS
from seg_perception.tools.harness import (add_settings_arguments, machine_description,
                                          sample_frame)
from seg_perception.weights import split_weights_dirs


#: Benchmark sections run by default, in order.
SECTIONS = ('node', 'configuration', 'conversion', 'tracker', 'e2e', 'lanes', 'detector')
#: Sections that take minutes and run only when named with --sections.
OPTIONAL_SECTIONS = ('engines', 'multicamera', 'drive')
#: (name, width, height) of the inputs the node rows are measured at.
NODE_SIZES = (('720p', 1280, 720), ('1080p', 1920, 1080))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg-perception bench``."""
    add_settings_arguments(parser)
    parser.add_argument('--device', default='cpu', help='auto, cpu, cuda or cuda:N')
    parser.add_argument('--engine', default='auto',
                        help='engine of the node rows: auto (the default configuration), torch, '
                             'onnxruntime, openvino')
    parser.add_argument('--half', action='store_true', help='float16 on CUDA')
    parser.add_argument('--engine-frames', type=int, default=12,
                        help='engines: CamVid frames scored (spread over the drive; 0 = all); '
                        'every Cityscapes sample frame is scored too')
    parser.add_argument('--engine-batch', type=int, default=1,
                        help='engines: frames per forward (4 = four cameras in one batch)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per stage')
    parser.add_argument('--sections', nargs='+', choices=SECTIONS + OPTIONAL_SECTIONS,
                        default=None,
                        help=f'what to measure (default: {", ".join(SECTIONS)}; '
                             f'{", ".join(OPTIONAL_SECTIONS)} takes minutes)')
    parser.add_argument('--cameras', nargs='+', type=int, default=[1, 2, 4],
                        help='multicamera: camera counts to measure (default: 1 2 4)')
    parser.add_argument('--camera-seconds', type=float, default=30.0,
                        help='multicamera: seconds of publishing per configuration')
    default_drive = paths.sample_path('camvid_samples', 'images')
    parser.add_argument('--drive-source', type=Path, default=default_drive,
                        help=f'drive: image folder or video (default: {default_drive})')
    parser.add_argument('--drive-labels', type=Path,
                        default=paths.sample_path('camvid_samples', 'labels'),
                        help="drive: CamVid-format labels of the source's frames, for mIoU "
                             '(default: the CamVid sample labels, when present)')
    parser.add_argument('--drive-limit', type=int, default=0,
                        help='drive: frames per variant (0 = all)')
    parser.add_argument('--drive-variants', nargs='+', default=(),
                        choices=[key for key, _, _ in DRIVE_VARIANTS],
                        help='drive: variants to run (default: all)')
    parser.add_argument('--backends', nargs='*', metavar='NAME', default=None,
                        help='instead: time the model backends with random weights at '
                        '--backend-size (default: torchvision transformers detectron2)')
    parser.add_argument('--backend-size', default='1024x512', metavar='WxH',
                        help='input size of --backends (default 1024x512)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as one JSON object on the last line')


def _print_node_rows(size: str, engine: str, timings: Dict[str, Dict], repeats: int) -> None:
    columns = ('before', 'after', 'before_cpu', 'after_cpu')
    print(f'node per-frame stages, {size} rgb8 input, ESPNetv2 s=2.0 at 1024x512, engine '
          f'{engine} (median of {repeats}, ms wall and ms process CPU; before = the host '
          'path before the engine graph):')
    print(f'  {"stage":<22}' + ''.join(f'{c:>11}' for c in columns))
    names = list(timings['before']) + [n for n in timings['after'] if n not in timings['before']]
    for name in names:
        cells = [f'{timings[c][name]:11.2f}' if name in timings[c] else f'{"":>11}'
                 for c in columns]
        print(f'  {name:<22}' + ''.join(cells))


def _print_conversion_rows(rows: List[Dict]) -> None:
    print('image conversion (median ms) beside ndarray.copy() of the same bytes:')
    columns = ('in_rgb8', 'in_bgr8', 'out_mono8', 'out_mono16', 'out_rgb8', 'numpy_copy_rgb8',
               'numpy_copy_mono8')
    print('  ' + f'{"size":<10}' + ''.join(f'{c:>17}' for c in columns))
    for row in rows:
        size = f'{row["width"]}x{row["height"]}'
        print('  ' + f'{size:<10}' + ''.join(f'{row[c]:17.3f}' for c in columns))


def _print_tracker_rows(rows: List[Dict]) -> None:
    print('tracker update per frame (median ms; moving boxes, KITTI image size, 10 Hz):')
    for row in rows:
        peer = f', ByteTrack (supervision) {row["bytetrack"]:.2f} ms' if 'bytetrack' in row \
            else ''
        # Peers of the trackers package (issue 15), when installed.
        others = ''.join(f', {name} {row[name]:.2f} ms' for name in row
                         if name not in ('objects', 'seg_perception', 'bytetrack'))
        print(f'  {int(row["objects"]):>4} objects: ours {row["seg_perception"]:.2f} ms{peer}'
              f'{others}')


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks and print the table; return the exit code."""
    if args.backends is not None:
        from seg_perception.tools.bench_backends import BENCH_BACKENDS, run_backends
        width, height = (int(v) for v in args.backend_size.lower().split('x'))
        return run_backends(args.backends or BENCH_BACKENDS, sample_frame(width, height),
                            args.device, args.repeats, args.json)
    import torch

    from seg_perception.backends.base import BackendError, BackendOptions
    from seg_perception.backends.espnetv2 import ESPNetv2Backend
    from seg_perception.ros import benchmark
    from seg_perception.tools import tracking_eval

    sections = args.sections or list(SECTIONS)
    results: Dict = {'machine': machine_description()}
    print(f'machine: {results["machine"]}; torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    rgb = sample_frame(1920, 1080)
    backend = None
    if 'node' in sections or 'e2e' in sections or 'detector' in sections:
        try:
            backend = ESPNetv2Backend(BackendOptions(
                weights_dirs=split_weights_dirs(args.weights_dir),
                device=args.device, engine=args.engine, half=args.half))
        except BackendError as error:
            print(f'bench: {error}', file=sys.stderr)
            return 1
        results['device'] = str(backend.device)
        results['engine'] = backend.engine.description
    # Segmented now: the e2e section's node releases the backend's engine when it stops. At the
    # network's input size, as the detector wrapper has it (the fusion works at that size).
    detector_primary = None
    if 'detector' in sections:
        labels, confidence = backend.infer_labels([rgb])
        detector_primary = backend.panoptic(labels[0], confidence[0], rgb.shape[:2],
                                            at_input_size=True)
    if 'node' in sections:
        results['node_ms'] = {}
        for size, width, height in NODE_SIZES:
            timings = benchmark.node_overhead(backend, sample_frame(width, height),
                                              args.repeats)
            results['node_ms'][size] = timings
            _print_node_rows(f'{width}x{height}', results['engine'], timings, args.repeats)
        results['node_1080p_ms'] = results['node_ms']['1080p']['after']
    if 'configuration' in sections:  # the parameter file's whole configuration at 1080p
        from seg_perception.settings_file import read_file_settings
        settings = read_file_settings(args.params_file, {'weights_dir': args.weights_dir,
                                                         'engine': args.engine,
                                                         'device': args.device})
        row = results['configuration_1080p_ms'] = benchmark.configuration_overhead(
            settings, rgb, args.repeats)
        print(f'configuration {args.params_file.name} ({settings.backend}, detector '
              f'{settings.backend_options.detector.name or "none"}), 1920x1080 rgb8, median of '
              f'{args.repeats} frames: total {row["total_ms"]:.1f} ms, of which '
              f'{row["network_calls"]:.0f} network calls {row["network_ms"]:.1f} ms; outside '
              f'the networks {row["outside_network_ms"]:.2f} ms (incl. publishing semantic + '
              f'instances {row["publish_ms"]:.2f} ms), {row["objects"]:.0f} tracked objects')
        print('  outside the networks by stage (ms): ' + ', '.join(
            f'{name} {value:.2f}' for name, value in row['stages_ms'].items()))
    if 'conversion' in sections:
        results['conversion_ms'] = benchmark.conversion_rows(max(args.repeats, 20))
        _print_conversion_rows(results['conversion_ms'])
    if 'tracker' in sections:
        results['tracker_ms'] = [tracking_eval.benchmark(n, peers=tracking_eval.PEERS)
                                 for n in (10, 50, 200)]
        _print_tracker_rows(results['tracker_ms'])
    if 'e2e' in sections:
        e2e = benchmark.end_to_end_over_rclpy(backend, rgb, args.repeats)
        results['end_to_end_1080p'] = e2e
        print(f'end to end over rclpy + Fast DDS (publish 1920x1080 rgb8 -> semantic received, '
              f'lock-step, {args.repeats} frames on {backend.device}): median '
              f'{e2e["median_ms"]:.1f} ms, p90 {e2e["p90_ms"]:.1f} ms, max {e2e["max_ms"]:.1f} ms')
    if 'lanes' in sections:
        from seg_perception.tools import lane_bench
        road = lane_bench.sample_road_frame()
        results['lanes_ms'] = lane_bench.measure(road, args.weights_dir, args.device,
                                                 args.repeats)
        lane_bench.print_rows(results['lanes_ms'], f'{road.shape[1]}x{road.shape[0]}',
                              args.repeats)
    if 'engines' in sections:
        from seg_perception.tools.bench_engines import compare_engines
        results['engines'] = compare_engines(args.weights_dir, args.device, args.half,
                                             args.engine_frames, args.engine_batch,
                                             args.repeats)
    if 'multicamera' in sections:
        results['multicamera'] = _multicamera(args)
    if 'drive' in sections:
        results['drive'] = _drive(args)
        if results['drive'] is None:
            return 1
    if 'detector' in sections:  # YOLOX + detection-guided fusion (skipped without weights)
        from seg_perception.tools.bench_detector import detector_rows
        results['detector_1080p'] = detector_rows(
            detector_primary, rgb, split_weights_dirs(args.weights_dir), args.device,
            args.repeats)
    if args.json:
        print(json.dumps(results))
    return 0


def _drive(args: argparse.Namespace) -> Optional[List[Dict]]:
    from seg_perception.tools import bench_drive

    if args.drive_source is None:
        print('bench drive: no source given and no sample data found: pass --drive-source',
              file=sys.stderr)
        return None
    print(f'the main job (drive) on {args.drive_source} through the node process, lock-step, '
          f'overlay subscribed, {args.params_file.name} with the overrides of each variant:')
    try:
        rows = bench_drive.drive_rows(args.drive_source, args.drive_labels, args.params_file,
                                      args.weights_dir, args.drive_limit, args.drive_variants)
    except RuntimeError as error:
        print(f'bench drive: {error}', file=sys.stderr)
        return None
    bench_drive.print_rows(rows)
    return rows


def _multicamera(args: argparse.Namespace) -> List[Dict]:
    from seg_perception.tools.multi_camera_bench import measure

    rgb = sample_frame(1280, 720)
    print(f'cameras through one node vs one node process each (1280x720 rgb8 at 10 Hz per '
          f'camera, {args.camera_seconds:g} s, {args.params_file.name}):')
    print(f'  {"cameras":>7} {"processes":>9} {"served fps":>11} {"per camera":>14} '
          f'{"RSS MiB":>8}')
    log_dir = Path(tempfile.mkdtemp(prefix='seg_perception_multicamera_'))
    print(f'  (node logs in {log_dir})')
    rows = []
    for cameras in args.cameras:
        for separate in (False, True):
            if separate and cameras == 1:
                continue  # the same configuration as one node
            result = measure(cameras, separate, rgb, args.params_file, args.weights_dir,
                             log_dir, args.camera_seconds)
            rows.append(result.as_dict())
            print(f'  {cameras:>7} {result.processes:>9} {result.served_fps:>11.2f} '
                  f'{result.per_camera_fps[0]:>6.2f}-{result.per_camera_fps[1]:<7.2f} '
                  f'{result.rss_mb:>8.0f}', flush=True)
    return rows
