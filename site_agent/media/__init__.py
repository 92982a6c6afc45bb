"""site_agent/media."""
