"""A district presents (issue 14): the clerk's file or a picture of the PC's screen, sent to the hub."""
