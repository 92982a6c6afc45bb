"""hub/control."""
