"""Launch actions that bring the managed segmentation node to ``active``.

Used by the files in ``launch/``; needs ``launch`` and ``launch_ros`` (a ROS 2 install), which is
why they are imported inside the function.
"""

from typing import List


def managed_segmentation_node(**node_arguments) -> List:
    """Return [LifecycleNode, configure request, activate-when-inactive handler].

    Args:
        **node_arguments: passed to ``launch_ros.actions.LifecycleNode`` (package, executable
            and namespace default to this package's node at the root namespace). The node's
            ``autostart`` parameter is set to false: launch drives the transitions.

    """
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.actions import LifecycleNode
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    node_arguments.setdefault('package', 'seg_perception')
    node_arguments.setdefault('executable', 'seg_perception_node')
    node_arguments.setdefault('name', 'seg_perception')
    node_arguments.setdefault('namespace', '')
    node_arguments['parameters'] = list(node_arguments.get('parameters', [])) + [
        {'autostart': False}]
    node = LifecycleNode(**node_arguments)
    configure = EmitEvent(event=ChangeState(
        lifecycle_node_matcher=matches_action(node),
        transition_id=Transition.TRANSITION_CONFIGURE))
    activate_when_inactive = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
        entities=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(node),
            transition_id=Transition.TRANSITION_ACTIVATE))]))
    return [node, activate_when_inactive, configure]
