"""Attendance: every join and leave of every site, and every floor grant, as intervals with reasons.

This room holds data only: ``model`` (pure) and ``store`` (tables, the writer
the conference manager calls, the readers the reports use). It has no routes
or tasks, so it has no ``setup``; its tables come with migration 0101.
"""
