"""Panoptic segmentation and tracking for driving cameras, with a ROS 2 node."""

__version__ = '0.1.0'
