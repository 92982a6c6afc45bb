"""site_agent/netmon."""
