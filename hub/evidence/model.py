"""The evidence package, pure: attendance arithmetic, pairing the traffic log's connections with
the attendance room's intervals, and the field digests that let ``evidence verify`` name the field
that changed. No I/O, no clock reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FORMAT = "salaklang-evidence/1"
# Field digests go this deep: "polls[3].counts", "participants[UDN01].identities",
# "audit.events[412]" (one audit event, named by its seq).
DIGEST_DEPTH = 3


@dataclass(frozen=True)
class Span:
    """One attendance interval of one participant (joined → left), from hub.attendance."""

    participant: str
    start: datetime
    end: datetime | None
    opened: str = "joined"
    closed: str | None = None


@dataclass(frozen=True)
class FloorSpan:
    participant: str
    start: datetime
    end: datetime | None
    by: str = ""
    closed: str | None = None


def seconds(start: datetime, end: datetime | None, until: datetime) -> float:
    stop = min(end, until) if end is not None else until
    return max(0.0, (stop - start).total_seconds())


def total_seconds(spans: Iterable[Span | FloorSpan], until: datetime) -> dict[str, float]:
    """Seconds per participant; overlapping intervals of one participant are counted once."""
    by: dict[str, list[tuple[datetime, datetime]]] = {}
    for s in spans:
        stop = min(s.end, until) if s.end is not None else until
        if stop > s.start:
            by.setdefault(s.participant, []).append((s.start, stop))
    out: dict[str, float] = {}
    for who, items in by.items():
        items.sort()
        total, cur_a, cur_b = 0.0, items[0][0], items[0][1]
        for a, b in items[1:]:
            if a > cur_b:
                total += (cur_b - cur_a).total_seconds()
                cur_a, cur_b = a, b
            else:
                cur_b = max(cur_b, b)
        out[who] = round(total + (cur_b - cur_a).total_seconds(), 3)
    return out


@dataclass(frozen=True)
class Connection:
    """A traffic-log connection's span (``key``: its row id), to pair with attendance intervals."""

    key: int
    participant: str
    start: datetime
    end: datetime | None


def pair_connections(spans: Sequence[Span], connections: Sequence[Connection], until: datetime) -> list[int | None]:
    """For each attendance interval, the key of the connection it happened on, or None.

    The attendance room and the traffic log each keep their own clock readings, so the
    match is by time: the connection of the same participant that overlaps the interval
    longest (touching counts, for a zero-length interval), then the one that began
    nearest to it. One connection may carry several intervals: a media rejoin opens a new
    interval on the same control connection.
    """
    out: list[int | None] = []
    for sp in spans:
        sp_end = sp.end or until
        best: tuple[float, float, int] | None = None
        for c in connections:
            c_end = c.end or until
            if c.participant != sp.participant or c.start > sp_end or sp.start > c_end:
                continue
            overlap = (min(sp_end, c_end) - max(sp.start, c.start)).total_seconds()
            rank = (-overlap, abs((c.start - sp.start).total_seconds()), c.key)
            if best is None or rank < best:
                best = rank
        out.append(best[2] if best is not None else None)
    return out


# --- field digests ----------------------------------------------------------------------------


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def _label(item: Any, index: int) -> str:
    if isinstance(item, dict):
        for key in ("participant", "seq", "id"):
            if key in item and isinstance(item[key], str | int):
                return str(item[key])
    return str(index)


def field_digests(doc: dict[str, Any]) -> dict[str, str]:
    """``{"meeting": h, "meeting.title": h, "polls[3]": h, "polls[3].counts": h, ...}``."""
    out: dict[str, str] = {}

    def walk(value: Any, path: str, depth: int, limit: int) -> None:
        out[path] = digest(value)
        if depth >= limit:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}", depth + 1, limit)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{_label(v, i)}]", depth + 1, limit)

    for key, value in doc.items():
        walk(value, key, 1, DIGEST_DEPTH)
    return out


def changed_fields(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """The most specific paths that differ (a changed "polls[3].counts", not also "polls")."""
    differ = {p for p in expected.keys() | actual.keys() if expected.get(p) != actual.get(p)}

    def has_child(p: str) -> bool:
        return any(q != p and (q.startswith(p + ".") or q.startswith(p + "[")) for q in differ)

    return sorted(p for p in differ if not has_child(p))
