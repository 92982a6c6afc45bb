"""Fixtures for the media tests; the helpers live in mediakit.py."""

from tests.hub.media.mediakit import rig

__all__ = ["rig"]
