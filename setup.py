"""Install seg_perception as an ament_python package (ROS 2) or a plain pip package."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'seg_perception'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE + '/rviz', glob('rviz/*.rviz')),
        ('share/' + PACKAGE + '/dds', glob('dds/*.xml')),
    ],
    install_requires=['numpy', 'opencv-python-headless', 'torch', 'connected-components-3d'],
    zip_safe=True,
    maintainer='seg_perception maintainers',
    maintainer_email='maintainers@seg-perception.invalid',
    description='Panoptic segmentation and tracking node for driving cameras (ROS 2).',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'seg_perception_node = seg_perception.ros.node:main',
            'seg-perception = seg_perception.tools.cli:main',
        ],
    },
)
