"""Segmentation backends; see ``registry`` for the available names."""
