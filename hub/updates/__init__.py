"""hub/updates."""
