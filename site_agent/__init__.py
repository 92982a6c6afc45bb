"""Salaklang district agent: control client, link probes and media endpoint."""

__version__ = "0.1.0"
