"""Launch the segmentation node for one camera.

Usage: ros2 launch seg_perception seg_perception.launch.py image_topic:=/cam/front/image_raw
Optional: params_file:=FILE (default config/default.yaml), weights_dir:=DIR (searched for the
checkpoint before the cache), rviz:=true (RViz with rviz/seg_perception.rviz, which shows the
/camera namespace).

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

from seg_perception.ros.launch_actions import segmentation_node_from_arguments


def generate_launch_description():
    """Return the launch description: one node, parameters from a file plus overrides."""
    share = get_package_share_directory('seg_perception')
    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file', default_value=os.path.join(share, 'config', 'default.yaml'),
            description='Parameter file of the node.'),
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='Camera topic (ending in /compressed for JPEG).'),
        DeclareLaunchArgument(
            'weights_dir', default_value='',
            description="Directories searched for the checkpoints (':'-separated); empty = "
                        "the parameter file's."),
        DeclareLaunchArgument('rviz', default_value='false', description='Start RViz too.'),
        segmentation_node_from_arguments('image_topic'),
        Node(
            package='rviz2',
            executable='rviz2',
            arguments=['-d', os.path.join(share, 'rviz', 'seg_perception.rviz')],
            condition=IfCondition(LaunchConfiguration('rviz')),
        ),
    ])
