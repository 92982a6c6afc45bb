"""Where the hub's files are: in a checkout, or inside the installed wheel."""

from __future__ import annotations

from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
STATIC_DIR = HUB_DIR / "static"
LOCALE_DIR = HUB_DIR / "locale"
MIGRATIONS_DIR = HUB_DIR / "migrations"


def templates_dir() -> Path:
    """``templates/`` in a checkout, the copy shipped in the wheel (``hub/templates``) otherwise."""
    checkout = HUB_DIR.parent / "templates"
    return checkout if checkout.is_dir() else HUB_DIR / "templates"
