"""Fixtures for the media tests; the helpers live in mediakit.py."""

from tests.media.mediakit import rig

__all__ = ["rig"]
