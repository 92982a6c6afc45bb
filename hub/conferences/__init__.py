"""hub/conferences."""
