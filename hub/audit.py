"""Audit log: who did what, when, from where. Part of each meeting's evidence."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from hub.db import session_scope
from hub.models import AuditEvent

log = logging.getLogger("hub.audit")


def record(
    engine: sa.Engine,
    *,
    actor: str,
    action: str,
    target: str = "",
    ok: bool = True,
    ip: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    event = AuditEvent(
        actor=actor[:100], action=action[:64], target=target[:200], ok=ok, ip=ip[:64],
        detail=detail or {},
    )
    with session_scope(engine) as session:
        session.add(event)
    log.info("audit %s %s %s ok=%s", actor, action, target, ok)


async def arecord(engine: sa.Engine, **kwargs: Any) -> None:
    await asyncio.to_thread(record, engine, **kwargs)


def recent(
    engine: sa.Engine, *, limit: int = 100, action_prefix: str = "", target: str = ""
) -> list[AuditEvent]:
    with session_scope(engine) as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
        if action_prefix:
            query = query.where(col(AuditEvent.action).startswith(action_prefix))
        if target:
            query = query.where(AuditEvent.target == target)
        return list(session.exec(query))
