"""Launch one segmentation node shared by several cameras (one model, per-camera outputs).

Usage: ros2 launch seg_perception multi_camera.launch.py \
    image_topics:="['/cam/front/image_raw', '/cam/left/image_raw/compressed']"
Optional: params_file:=FILE (default config/multi_camera.yaml), weights_dir:=DIR.

The node is a managed (lifecycle) node: this file configures it, then activates it once it is
inactive (see seg_perception/ros/launch_actions.py).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument

from seg_perception.ros.launch_actions import segmentation_node_from_arguments


def generate_launch_description():
    """Return the launch description: one node for every topic of ``image_topics``."""
    share = get_package_share_directory('seg_perception')
    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file', default_value=os.path.join(share, 'config', 'multi_camera.yaml'),
            description='Parameter file of the node.'),
        DeclareLaunchArgument(
            'image_topics',
            default_value="['/cam/front/image_raw', '/cam/left/image_raw/compressed', "
                          "'/cam/right/image_raw/compressed']",
            description='Camera topics, as a YAML list.'),
        DeclareLaunchArgument(
            'weights_dir', default_value='',
            description="Directories searched for the checkpoints (':'-separated); empty = "
                        "the parameter file's."),
        segmentation_node_from_arguments('image_topics'),
    ])
