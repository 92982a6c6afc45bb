"""site_agent/clerk."""
