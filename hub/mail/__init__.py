"""hub/mail."""
