"""Lane lines as instances: grouping of lane pixels, a lane tracker, lifting onto the ground.

Modules: ``structures`` (``LaneLine``), ``grouping`` (lane pixels -> lines), ``tracker`` (ids
across frames), ``sides`` (ego-lane boundaries), ``extractor`` (the per-camera lane stage the
pipeline runs), ``ground`` (lifting onto the ground plane with a ``CameraModel``).
The package imports nothing at its top, so that the pipeline can use it without ``geometry``.
"""
