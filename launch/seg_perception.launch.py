"""Launch the segmentation node for one camera.

Usage: ros2 launch seg_perception seg_perception.launch.py image_topic:=/cam/front/image_raw
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    """Return the launch description: one node, parameters from a file plus overrides."""
    default_params = os.path.join(
        get_package_share_directory('seg_perception'), 'config', 'default.yaml')
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameter file of the node.'),
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='Camera topic (ending in /compressed for JPEG).'),
        DeclareLaunchArgument('weights_dir', default_value='',
                              description='Directory holding the checkpoint.'),
        Node(
            package='seg_perception',
            executable='seg_perception_node',
            name='seg_perception',
            output='screen',
            parameters=[
                LaunchConfiguration('params_file'),
                {
                    'image_topics': [LaunchConfiguration('image_topic')],
                    'weights_dir': LaunchConfiguration('weights_dir'),
                },
            ],
        ),
    ])
