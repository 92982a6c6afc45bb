"""The traffic log: every participant's connection, on the hub's clock, with the clock's NTP state.

The conference manager's join path tells :meth:`TrafficLog.on_connection` of every
district's join and leave (source address, agent version, the media-quality summary at
leave); the guests room calls :meth:`TrafficLog.joined` / :meth:`TrafficLog.left` for a
browser. The evidence package reads the rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hub.conferences.manager import SiteConnection
from hub.db import session_scope
from hub.evidence import store
from hub.evidence.clock import ClockState, ClockWatch
from hub.models import utcnow


class TrafficLog:
    def __init__(self, engine: sa.Engine, clock: Callable[[], datetime] = utcnow,
                 clock_state: Callable[[], ClockState] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.clock_state = clock_state or ClockWatch().state

    async def on_connection(self, conn: SiteConnection) -> None:
        """The conference manager's listener (its join and leave, at the times it saw them)."""
        if conn.event == "joined":
            await asyncio.to_thread(self.joined, conn.conference_id, conn.site, source_addr=conn.source_addr,
                                    client=conn.client, at=conn.at)
        else:
            await asyncio.to_thread(self.left, conn.conference_id, conn.site, reason=conn.reason,
                                    quality=conn.quality, at=conn.at)

    def joined(self, conference_id: int, participant: str, *, source_addr: str, client: str,
               at: datetime | None = None) -> int:
        """A participant's media is up: open its connection row (a second join while open keeps it)."""
        state = self.clock_state()
        with session_scope(self.engine) as s:
            row = store.open_connection(s, conference_id, participant)
            if row is None:
                row = store.TrafficRecord(conference_id=conference_id, participant=participant,
                                          joined_at=at or self.clock(), source_addr=source_addr[:64], client=client[:300],
                                          clock_at_join=state.label, clock_source=state.source)
                s.add(row)
                s.flush()
            assert row.id is not None
            return row.id

    def left(self, conference_id: int, participant: str, *, reason: str, quality: dict[str, Any] | None = None,
             at: datetime | None = None) -> bool:
        """Close the open connection with its reason and media-quality summary; False if none was open."""
        state = self.clock_state()
        with session_scope(self.engine) as s:
            row = store.open_connection(s, conference_id, participant)
            if row is None:
                return False
            row.left_at, row.close_reason, row.clock_at_leave = max(at or self.clock(), row.joined_at), reason[:32], state.label
            row.quality = dict(quality or {})
            s.add(row)
        return True

    def rows(self, conference_id: int) -> list[store.TrafficRecord]:
        with session_scope(self.engine) as s:
            return store.traffic(s, conference_id)
