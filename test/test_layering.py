"""Imports flow one way through the package's layers, and no modules import each other in a circle.

Layers, lowest first (a module may import its own layer and the ones below):

0. core: plain data and names (structures, taxonomy, label sets, topics, small helpers);
1. components: backends, tracking, geometry, lanes, pipeline, overlay, components;
2. assembly: settings and the pipeline builder, which put the components together;
3. ros: the only layer that speaks rclpy and ROS messages (node, conversions, bags);
4. tools: the command-line tools.

Every import counts, the ones inside functions too (they hide cycles, not remove them).
"""

import ast
import importlib
from pathlib import Path
from typing import Dict, List, Set, Tuple

from seg_perception.paths import repo_root

PACKAGE = repo_root() / 'seg_perception'

#: First matching prefix wins; a module matched by none fails the test (every module has a layer).
LAYERS: Tuple[Tuple[str, int], ...] = (
    ('seg_perception.tools', 4),
    ('seg_perception.ros', 3),
    ('seg_perception.settings', 2),
    ('seg_perception.settings_file', 2),
    ('seg_perception.build', 2),
    ('seg_perception.backends', 1),
    ('seg_perception.tracking', 1),
    ('seg_perception.geometry', 1),
    ('seg_perception.lanes', 1),
    ('seg_perception.pipeline', 1),
    ('seg_perception.overlay', 1),
    ('seg_perception.components', 1),
    ('seg_perception.structures', 0),
    ('seg_perception.taxonomy', 0),
    ('seg_perception.label_sets', 0),
    ('seg_perception.topics', 0),
    ('seg_perception.rate_limit', 0),
    ('seg_perception.stream_stats', 0),
    ('seg_perception.calibration', 0),
    ('seg_perception.weights', 0),
    ('seg_perception.paths', 0),
    ('seg_perception', 0),
)

#: Third-party imports that belong to one layer only.
ROS_ONLY = ('rclpy', 'rosidl_runtime_py', 'launch', 'launch_ros')


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def layer_of(module: str) -> int:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + '.'):
            return layer
    raise AssertionError(f'{module} is in no layer: add it to LAYERS')


def imports_of(path: Path) -> List[Tuple[str, int]]:
    """Return (imported module, line) for every import in a file, nested ones included."""
    found = []
    package = module_name(path).rsplit('.', 0 if path.name == '__init__.py' else 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(parent + ([base] if base else []))
            found.append((base, node.lineno))
            # `from seg_perception.tools import bench` imports the module bench.
            found.extend((f'{base}.{alias.name}', node.lineno) for alias in node.names)
    return found


def package_graph() -> Dict[str, Set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob('*.py')}
    graph = {}
    for module, path in modules.items():
        graph[module] = {name for name, _ in imports_of(path)
                         if name in modules and name != module}
    return graph


def test_every_import_goes_to_the_same_or_a_lower_layer():
    problems = []
    for path in sorted(PACKAGE.rglob('*.py')):
        module = module_name(path)
        for name, line in imports_of(path):
            ours = name == 'seg_perception' or name.startswith('seg_perception.')
            if ours and layer_of(name) > layer_of(module):
                problems.append(f'{path.relative_to(PACKAGE.parent)}:{line}: {module} '
                                f'(layer {layer_of(module)}) imports {name} '
                                f'(layer {layer_of(name)})')
            if name.split('.')[0] in ROS_ONLY and layer_of(module) < 3:
                problems.append(f'{path.relative_to(PACKAGE.parent)}:{line}: {name} '
                                'outside seg_perception.ros / tools')
            if name.endswith('_msgs.msg') and layer_of(module) < 3:
                problems.append(f'{path.relative_to(PACKAGE.parent)}:{line}: ROS message '
                                f'{name} outside seg_perception.ros / tools')
    assert not problems, '\n'.join(problems)


def test_no_import_cycles():
    graph = package_graph()
    # A package's __init__ importing its own modules is not a cycle of logic.
    for module in graph:
        graph[module] = {m for m in graph[module] if not module.startswith(m + '.')
                         and not m.startswith(module + '.')}
    cycles, state = [], {}

    def visit(module: str, stack: List[str]) -> None:
        state[module] = 'open'
        for other in sorted(graph[module]):
            if state.get(other) == 'open':
                cycles.append(' -> '.join(stack[stack.index(other):] + [other]))
            elif other not in state:
                visit(other, stack + [other])
        state[module] = 'done'

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, '\n'.join(cycles)


def test_the_layering_test_sees_a_violation(tmp_path):
    # The checker itself: a core module importing the ros layer is reported.
    assert layer_of('seg_perception.structures') < layer_of('seg_perception.ros.node')
    assert layer_of('seg_perception.tools.cli') == 4
    source = PACKAGE / 'structures.py'
    assert any(name == 'dataclasses' for name, _ in imports_of(source))


def test_every_module_imports():
    # A module moved by a restructuring leaves imports of its old place behind; only importing
    # finds them (bench_engines imported seg_perception.tools.paths after paths had moved up).
    failures = []
    for path in sorted(PACKAGE.rglob('*.py')):
        module = module_name(path)
        if module.endswith('__main__'):
            continue  # runs its command when imported
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: B902 - every failure is reported, with its module
            failures.append(f'{module}: {type(error).__name__}: {error}')
    assert not failures, '\n'.join(failures)
