"""Launch the segmentation node for one camera.

Usage: ros2 launch seg_perception seg_perception.launch.py image_topic:=/cam/front/image_raw
Add rviz:=true to open RViz with the overlay and the masks (rviz/seg_perception.rviz, which
shows the /camera namespace).

The node is a managed (lifecycle) node: this file configures it, then activates it once it is
inactive (see seg_perception/ros/launch_actions.py).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from seg_perception.ros.launch_actions import managed_segmentation_node


def generate_launch_description():
    """Return the launch description: one node, parameters from a file plus overrides."""
    share = get_package_share_directory('seg_perception')
    default_params = os.path.join(share, 'config', 'default.yaml')
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameter file of the node.'),
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='Camera topic (ending in /compressed for JPEG).'),
        DeclareLaunchArgument('weights_dir', default_value='',
                              description='Directory holding the checkpoint.'),
        DeclareLaunchArgument('rviz', default_value='false', description='Start RViz too.'),
        *managed_segmentation_node(
            output='screen',
            parameters=[
                LaunchConfiguration('params_file'),
                {
                    'image_topics': [LaunchConfiguration('image_topic')],
                    'weights_dir': LaunchConfiguration('weights_dir'),
                },
            ],
        ),
        Node(
            package='rviz2',
            executable='rviz2',
            arguments=['-d', os.path.join(share, 'rviz', 'seg_perception.rviz')],
            condition=IfCondition(LaunchConfiguration('rviz')),
        ),
    ])
