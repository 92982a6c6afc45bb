"""hub/alarms."""
