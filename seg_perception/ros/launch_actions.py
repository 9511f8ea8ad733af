"""Launch actions that start the managed segmentation node and bring it to ``active``.

Used by the files in ``launch/``; needs ``launch`` and ``launch_ros`` (a ROS 2 install, or the
ros2_overlay set up by ``scripts/setup.sh``), which is why they are imported inside the
functions. ``parse_topic_list`` is plain Python and tested without them.
"""

from typing import Dict, List

import yaml


def parse_topic_list(text: str) -> List[str]:
    """Return the camera topics of a launch argument.

    Args:
        text: one topic (``/cam/front/image_raw``) or a YAML list of topics
            (``"['/cam/front/image_raw', '/cam/left/image_raw/compressed']"``).

    Raises:
        ValueError: the text is empty, not valid YAML, or not a list of non-empty names.

    """
    text = text.strip()
    if not text:
        raise ValueError('no camera topic given (image_topic / image_topics is empty)')
    if not text.startswith('['):
        return [text]
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f'image_topics is not a YAML list of topics: {text!r} ({error})')
    if not isinstance(value, list) or not value or \
            not all(isinstance(topic, str) and topic.strip() for topic in value):
        raise ValueError(f'image_topics must be a non-empty list of topic names, got {text!r}')
    return [topic.strip() for topic in value]


def node_overrides(image_topics: List[str], weights_dir: str) -> Dict[str, object]:
    """Return the parameters that launch arguments set on top of the parameter file.

    An empty ``weights_dir`` leaves the file's value alone.
    """
    overrides: Dict[str, object] = {'image_topics': list(image_topics)}
    if weights_dir.strip():
        overrides['weights_dir'] = weights_dir.strip()
    return overrides


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


def segmentation_node_from_arguments(topics_argument: str):
    """Return an ``OpaqueFunction`` that starts the managed node from the launch arguments.

    The arguments ``params_file``, ``weights_dir`` and ``topics_argument`` (``image_topic`` or
    ``image_topics``: one topic or a YAML list) are read when the launch runs, so every one of
    them reaches the node with the parameter type it declares (a substitution inside a list
    would become one string, not a string array).
    """
    from launch.actions import OpaqueFunction
    from launch.substitutions import LaunchConfiguration

    def start(context, *args, **kwargs):
        def argument(name: str) -> str:
            return LaunchConfiguration(name).perform(context)

        overrides = node_overrides(parse_topic_list(argument(topics_argument)),
                                   argument('weights_dir'))
        return managed_segmentation_node(
            output='screen', parameters=[argument('params_file'), overrides])

    return OpaqueFunction(function=start)
