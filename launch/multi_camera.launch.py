"""Launch one segmentation node shared by several cameras (one model, per-camera outputs).

Usage: ros2 launch seg_perception multi_camera.launch.py \
    image_topics:="['/cam/front/image_raw', '/cam/left/image_raw/compressed']"

The node is a managed (lifecycle) node: this file configures it, then activates it once it is
inactive (see seg_perception/ros/launch_actions.py).
"""

import os
from typing import List

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.parameter_descriptions import ParameterValue

from seg_perception.ros.launch_actions import managed_segmentation_node


def generate_launch_description():
    """Return the launch description: one node for every topic of ``image_topics``."""
    default_params = os.path.join(
        get_package_share_directory('seg_perception'), 'config', 'multi_camera.yaml')
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameter file of the node.'),
        DeclareLaunchArgument(
            'image_topics',
            default_value="['/cam/front/image_raw', '/cam/left/image_raw/compressed', "
                          "'/cam/right/image_raw/compressed']",
            description='Camera topics, as a YAML list.'),
        *managed_segmentation_node(
            output='screen',
            parameters=[
                LaunchConfiguration('params_file'),
                {'image_topics': ParameterValue(LaunchConfiguration('image_topics'),
                                                value_type=List[str])},
            ],
        ),
    ])
