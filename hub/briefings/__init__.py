"""hub/briefings."""
