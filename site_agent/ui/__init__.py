"""site_agent/ui."""
