"""One district: contact, link history, router interface, events, agent, attendance.

Attendance is shown twice: the briefings this district was invited to (readiness, first
join), and every join and leave it made, as the intervals hub.attendance records them
(with the reason each opened and closed: joined, left by the clerk, link lost, hub
restart, removed by the chair, conference ended).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select

from hub.attendance import store as attendance_store
from hub.attendance.model import REASON_LABELS
from hub.briefings.store import BriefingAttendance, BriefingOccurrence, BriefingSeries
from hub.conferences.store import ConferenceRecord
from hub.control.registry import REGISTRY
from hub.control.store import Agent
from hub.db import session_scope
from hub.keys import ENGINE
from hub.models import Link, Site, utcnow
from hub.web.auth import require_role
from hub.web.i18n import N_


def _attendance(engine: Any, code: str) -> list[dict[str, Any]]:
    """Past and coming briefings of this district (the latest 30 of the province's)."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(BriefingOccurrence, BriefingSeries, BriefingAttendance)
            .join(BriefingSeries, col(BriefingSeries.id) == BriefingOccurrence.series_id)
            .join(
                BriefingAttendance,
                (col(BriefingAttendance.occurrence_id) == BriefingOccurrence.id)
                & (col(BriefingAttendance.site_code) == code),
                isouter=True,
            )
            .order_by(col(BriefingOccurrence.starts_at).desc())
            .limit(30)
        ).all()
        out = []
        for occ, series, att in rows:
            if code not in series.spec.get("districts", []):
                continue
            out.append({
                "id": occ.id,
                "title": series.title,
                "starts_at": occ.starts_at,
                "state": occ.state,
                "ready": att.ready if att else None,
                "reasons": list(att.reasons) if att else [],
                "joined_at": att.joined_at if att else None,
            })
        return out


INTERVAL_DAYS = 90
INTERVAL_ROWS = 50


def _intervals(engine: Any, code: str) -> list[dict[str, Any]]:
    """This district's join→leave intervals of the last 90 days, newest first (at most 50)."""
    now = utcnow()
    rows = attendance_store.intervals_between(engine, now - timedelta(days=INTERVAL_DAYS), now + timedelta(days=1),
                                              [code])[-INTERVAL_ROWS:]
    with session_scope(engine) as session:
        ids = {r.conference_id for r in rows}
        titles = {c.id: c.title for c in session.exec(
            select(ConferenceRecord).where(col(ConferenceRecord.id).in_(ids)))} if ids else {}
    out = []
    for r in reversed(rows):
        end = r.ended_at
        out.append({
            "conference_id": r.conference_id, "title": titles.get(r.conference_id, ""),
            "started_at": r.started_at, "ended_at": end,
            "minutes": ((end or now) - r.started_at).total_seconds() / 60,
            "opened": REASON_LABELS.get(r.opened_reason, (r.opened_reason, r.opened_reason)),
            "closed": REASON_LABELS.get(r.closed_reason, (r.closed_reason, r.closed_reason)) if r.closed_reason else None,
            "opened_reason": r.opened_reason, "closed_reason": r.closed_reason,
        })
    return out


def _load(engine: Any, code: str) -> dict[str, Any] | None:
    with session_scope(engine) as session:
        site = session.exec(select(Site).where(Site.code == code)).first()
        if site is None or site.id is None:
            return None
        link = session.exec(select(Link).where(Link.site_id == site.id)).first()
        agent = session.exec(select(Agent).where(Agent.site_id == site.id)).first()
        return {
            "site": site.model_dump(),
            "link": link.model_dump() if link else None,
            "agent": agent.model_dump(exclude={"token_hash"}) if agent else None,
        }


@aiohttp_jinja2.template("district.html")
async def district_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    code = request.match_info["code"]
    engine = request.app[ENGINE]
    data = await asyncio.to_thread(_load, engine, code)
    if data is None:
        raise web.HTTPNotFound(text=f"no district {code}")
    live = request.app[REGISTRY].live.get(code)
    attendance, intervals = await asyncio.gather(asyncio.to_thread(_attendance, engine, code),
                                                 asyncio.to_thread(_intervals, engine, code))
    return {**data, "live": live.as_dict() if live else None, "attendance": attendance, "code": code,
            "state_labels": STATE_LABELS, "intervals": intervals}



def setup(app: web.Application) -> None:
    app.router.add_get("/districts/{code}", district_page, name="ui_district")


# Occurrence states as the attendance table shows them (marked for extraction).
STATE_LABELS = {
    "scheduled": N_("Scheduled"), "readiness": N_("Readiness check"), "reminded": N_("Reminded"),
    "open": N_("Running"), "ended": N_("Ended"), "missed": N_("Missed"), "cancelled": N_("Cancelled"),
}
