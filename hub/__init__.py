"""Salaklang hub: the provincial hall's conference orchestrator."""

__version__ = "0.1.0"
