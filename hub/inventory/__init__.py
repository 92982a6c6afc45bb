"""hub/inventory."""
