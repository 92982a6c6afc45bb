"""Which agent release a district should get, and how far a wave has got: pure rules.

Versions are PEP 440 (``packaging``); a text that is not one never wins an offer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from packaging.version import InvalidVersion, Version

T = TypeVar("T")

WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def sort_key(text: str) -> Version:
    """Newest first sorts by this; an unparsable version sorts as the oldest."""
    return parse_version(text) or Version("0")


def newest_offer(candidates: Iterable[tuple[str, T]], running: str) -> T | None:
    """The candidate with the newest version above ``running`` (any, if ``running`` is not a version)."""
    have = parse_version(running)
    best: tuple[Version, T] | None = None
    for version, item in candidates:
        v = parse_version(version)
        if v is None or (have is not None and v <= have):
            continue
        if best is None or v > best[0]:
            best = (v, item)
    return best[1] if best else None


def is_updated(running: str | None, target: str) -> bool:
    have = parse_version(running) if running is not None else None
    want = parse_version(target)
    return bool(have is not None and want is not None and have >= want)


def percent(done: int, total: int) -> float:
    return round(100.0 * done / total, 1) if total else 0.0
