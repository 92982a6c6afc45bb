"""Fixtures for the media tests; the helpers live in mediakit.py."""

from mediakit import rig

__all__ = ["rig"]
