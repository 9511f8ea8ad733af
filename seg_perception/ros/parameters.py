"""The node's parameters on a ROS node: declared with descriptors, read into ``NodeSettings``.

Names, defaults, descriptions and ranges come from ``seg_perception.settings.PARAMETERS``.
"""

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy)

from seg_perception.settings import NodeSettings, PARAMETERS, settings_from_values


def declare_parameters(node: Node) -> None:
    """Declare every parameter of ``PARAMETERS`` on ``node`` with its descriptor."""
    for spec in PARAMETERS:
        descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
        if spec.minimum is not None and isinstance(spec.default, int) \
                and not isinstance(spec.default, bool):
            descriptor.integer_range = [IntegerRange(
                from_value=int(spec.minimum), to_value=int(spec.maximum), step=int(spec.step))]
        elif spec.minimum is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(spec.minimum), to_value=float(spec.maximum),
                step=float(spec.step))]
        node.declare_parameter(spec.name, spec.default, descriptor)


def read_settings(node: Node) -> NodeSettings:
    """Read the node's declared parameters into a ``NodeSettings``.

    Raises:
        ValueError: a value outside what the node accepts (message names the parameter).

    """
    return settings_from_values({spec.name: node.get_parameter(spec.name).value
                                 for spec in PARAMETERS})


def input_qos(settings: NodeSettings) -> QoSProfile:
    """Return the image subscriptions' QoS (by default sensor-data: best effort, depth 1)."""
    reliability = (ReliabilityPolicy.BEST_EFFORT if settings.qos_reliability == 'best_effort'
                   else ReliabilityPolicy.RELIABLE)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=settings.qos_depth,
                      reliability=reliability, durability=DurabilityPolicy.VOLATILE)


def output_qos(settings: NodeSettings) -> QoSProfile:
    """Return the per-frame outputs' QoS: reliable, which readers of either kind match."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=settings.output_qos_depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched_qos() -> QoSProfile:
    """Return the QoS of ``label_info``: transient local, so late subscribers get it."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
