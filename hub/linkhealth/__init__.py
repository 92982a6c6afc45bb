"""hub/linkhealth."""
