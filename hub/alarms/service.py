"""Alarms: a district went offline or its link went red.

Raised in the control room (live event ``alarm``) and delivered by webhook
(JSON POST) and/or email when configured. An alarm raised within
``alarms_briefing_window_min`` before a scheduled briefing of that district
is *critical* instead of a *warning*: the scheduling feature tells us when
briefings are through :func:`set_briefing_lookup`. Delivery failures are
logged and recorded on the alarm, never raised into the caller.

One open alarm per (site, kind): a flapping link does not flood the room;
the alarm clears when the site is back (online, or green/amber again), and
stays in the list until an operator acknowledges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from sqlmodel import Field, SQLModel, col, select

from hub import audit
from hub.db import session_scope
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.models import Agent, Site, utcnow
from hub.settings import Settings
from hub.web.auth import client_ip, require_role

log = logging.getLogger("hub.alarms.service")

# Agents reconnect with a backoff capped at about 30 s.
STARTUP_RECONNECT_S = 35.0

BriefingLookup = Callable[[str, datetime], "datetime | Awaitable[datetime | None] | None"]


class Alarm(SQLModel, table=True):
    __tablename__ = "alarms"
    __table_args__ = (sa.Index("ix_alarms_site_kind_open", "site_id", "kind", "cleared_at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id")
    kind: str = Field(max_length=16)  # offline | red | not_ready
    severity: str = Field(max_length=16)  # warning | critical
    raised_at: datetime = Field(default_factory=utcnow, index=True)
    briefing_at: datetime | None = None
    message_th: str = Field(max_length=500)
    message_en: str = Field(max_length=500)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    cleared_at: datetime | None = None
    acknowledged_by: str | None = Field(default=None, max_length=100)
    acknowledged_at: datetime | None = None
    delivery: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


_TEXT = {
    "offline": ("อำเภอ{name_th} ขาดการติดต่อ", "{name_en} district is offline"),
    "red": ("ลิงก์อำเภอ{name_th} อยู่ในสถานะแดง", "{name_en} district link is red"),
    # Online but failed its T−15 self-test (camera, microphone, link...): someone must call.
    "not_ready": ("อำเภอ{name_th} ไม่พร้อมประชุม", "{name_en} district is not ready for the briefing"),
}
_BRIEFING = (" — ก่อนการประชุมเวลา {time_th} น.", " — before the briefing at {time_en}")


def severity_for(raised_at: datetime, briefing_at: datetime | None, window_min: float) -> str:
    """Pure: critical when the next briefing starts within the window after ``raised_at``."""
    if briefing_at is None:
        return "warning"
    lead = briefing_at - raised_at
    return "critical" if timedelta(0) <= lead <= timedelta(minutes=window_min) else "warning"


def alarm_json(a: Alarm, code: str) -> dict[str, Any]:
    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {
        "id": a.id,
        "site": code,
        "kind": a.kind,
        "severity": a.severity,
        "raised_at": iso(a.raised_at),
        "briefing_at": iso(a.briefing_at),
        "message_th": a.message_th,
        "message_en": a.message_en,
        "detail": a.detail,
        "cleared_at": iso(a.cleared_at),
        "acknowledged_by": a.acknowledged_by,
        "acknowledged_at": iso(a.acknowledged_at),
        "delivery": a.delivery,
    }


class Alarms:
    def __init__(self, settings: Settings, engine: sa.Engine, publish: Callable[[str, dict[str, Any]], None]) -> None:
        self.settings = settings
        self.engine = engine
        self.publish = publish
        self._lookup: BriefingLookup | None = None
        self._deliveries: set[asyncio.Task[None]] = set()

    def set_briefing_lookup(self, fn: BriefingLookup | None) -> None:
        """``fn(site_code, now_utc)`` → start of that site's next briefing (aware UTC) or None.

        May be a plain function or a coroutine function.
        """
        self._lookup = fn

    async def _next_briefing(self, code: str, now: datetime) -> datetime | None:
        if self._lookup is None:
            return None
        try:
            result = self._lookup(code, now)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            log.exception("briefing lookup failed for %s", code)
            return None
        return result if isinstance(result, datetime) else None

    async def raise_alarm(self, code: str, kind: str, detail: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Open an alarm unless one of this kind is already open for the site."""
        now = utcnow()
        briefing_at = await self._next_briefing(code, now)
        severity = severity_for(now, briefing_at, self.settings.alarms_briefing_window_min)

        def write() -> dict[str, Any] | None:
            with session_scope(self.engine) as session:
                site = session.exec(select(Site).where(Site.code == code)).first()
                if site is None or site.id is None:
                    return None
                open_row = session.exec(
                    select(Alarm).where(
                        Alarm.site_id == site.id, Alarm.kind == kind, col(Alarm.cleared_at).is_(None)
                    )
                ).first()
                if open_row is not None:
                    return None
                th, en = _TEXT[kind]
                msg_th = th.format(name_th=site.name_th)
                msg_en = en.format(name_en=site.name_en)
                if severity == "critical" and briefing_at is not None:
                    local = briefing_at.astimezone(_zone(self.settings.timezone))
                    msg_th += _BRIEFING[0].format(time_th=local.strftime("%H:%M"))
                    msg_en += _BRIEFING[1].format(time_en=local.strftime("%H:%M"))
                row = Alarm(
                    site_id=site.id, kind=kind, severity=severity, raised_at=now,
                    briefing_at=briefing_at, message_th=msg_th, message_en=msg_en, detail=detail or {},
                )
                session.add(row)
                session.flush()
                return alarm_json(row, code)

        data = await asyncio.to_thread(write)
        if data is None:
            return None
        log.warning("alarm %s %s: %s", data["severity"], code, data["message_en"])
        self.publish("alarm", data)
        task = asyncio.create_task(self._deliver(data))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        return data

    async def clear(self, code: str, kind: str) -> int:
        def write() -> list[dict[str, Any]]:
            with session_scope(self.engine) as session:
                rows = session.exec(
                    select(Alarm, Site)
                    .join(Site, Site.id == Alarm.site_id)  # type: ignore[arg-type]
                    .where(Site.code == code, Alarm.kind == kind, col(Alarm.cleared_at).is_(None))
                ).all()
                out = []
                for alarm, _site in rows:
                    alarm.cleared_at = utcnow()
                    session.add(alarm)
                    out.append(alarm_json(alarm, code))
                return out

        cleared = await asyncio.to_thread(write)
        for data in cleared:
            self.publish("alarm", data)
        return len(cleared)

    async def acknowledge(self, alarm_id: int, who: str) -> dict[str, Any] | None:
        def write() -> dict[str, Any] | None:
            with session_scope(self.engine) as session:
                row = session.exec(
                    select(Alarm, Site).join(Site, Site.id == Alarm.site_id).where(Alarm.id == alarm_id)  # type: ignore[arg-type]
                ).first()
                if row is None:
                    return None
                alarm, site = row
                if alarm.acknowledged_at is None:
                    alarm.acknowledged_by = who[:100]
                    alarm.acknowledged_at = utcnow()
                    session.add(alarm)
                return alarm_json(alarm, site.code)

        data = await asyncio.to_thread(write)
        if data is not None:
            self.publish("alarm", data)
        return data

    def list(self, *, open_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            query = select(Alarm, Site).join(Site, Site.id == Alarm.site_id)  # type: ignore[arg-type]
            if open_only:
                query = query.where(col(Alarm.acknowledged_at).is_(None))
            rows = session.exec(query.order_by(col(Alarm.raised_at).desc(), col(Alarm.id).desc()).limit(limit)).all()
            return [alarm_json(a, s.code) for a, s in rows]

    # --- delivery ----------------------------------------------------------------------------
    async def _deliver(self, data: dict[str, Any]) -> None:
        results: dict[str, str] = {}
        if self.settings.alarms_webhook_url:
            results["webhook"] = await self._webhook(data)
        if self.settings.alarms_email_to.strip():
            results["email"] = await self._email(data)
        if not results:
            return

        def write() -> None:
            with session_scope(self.engine) as session:
                row = session.get(Alarm, data["id"])
                if row is not None:
                    row.delivery = results
                    session.add(row)

        try:
            await asyncio.to_thread(write)
        except Exception:
            log.exception("recording alarm delivery failed")

    async def _webhook(self, data: dict[str, Any]) -> str:
        timeout = aiohttp.ClientTimeout(total=self.settings.alarms_delivery_timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, http.post(
                self.settings.alarms_webhook_url, json={"kind": "alarm", "alarm": data}
            ) as resp:
                if resp.status >= 300:
                    log.warning("alarm webhook answered HTTP %s", resp.status)
                    return f"error: HTTP {resp.status}"
                return "ok"
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.warning("alarm webhook failed: %s", exc)
            return f"error: {type(exc).__name__}: {exc}"[:200]

    async def _email(self, data: dict[str, Any]) -> str:
        import os

        import aiosmtplib

        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.mail_from
        msg["To"] = ", ".join(a.strip() for a in s.alarms_email_to.split(",") if a.strip())
        tag = "[วิกฤต/CRITICAL]" if data["severity"] == "critical" else "[เตือน/WARNING]"
        msg["Subject"] = f"{tag} {data['message_th']} / {data['message_en']}"
        msg.set_content(
            f"{data['message_th']}\n{data['message_en']}\n\n"
            f"site: {data['site']}\nraised (UTC): {data['raised_at']}\n"
            f"briefing (UTC): {data['briefing_at'] or '-'}\n"
        )
        password = os.environ.get(s.smtp_password_env, "") if s.smtp_password_env else ""
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=password or None,
                start_tls=s.smtp_starttls,
                timeout=s.alarms_delivery_timeout_s,
            )
            return "ok"
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as exc:
            log.warning("alarm email failed: %s", exc)
            return f"error: {type(exc).__name__}: {exc}"[:200]

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# --- wiring --------------------------------------------------------------------------------

ALARMS = web.AppKey("alarms", Alarms)


def set_briefing_lookup(app: web.Application, fn: BriefingLookup | None) -> None:
    """For the scheduling feature: how to find a site's next briefing."""
    app[ALARMS].set_briefing_lookup(fn)


async def list_alarms(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    open_only = request.query.get("open") in ("1", "true")
    data = await asyncio.to_thread(request.app[ALARMS].list, open_only=open_only)
    return web.json_response(data)


async def ack_alarm(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    try:
        alarm_id = int(request.match_info["id"])
    except ValueError as exc:
        raise web.HTTPNotFound(text='{"error": "no such alarm"}', content_type="application/json") from exc
    data = await request.app[ALARMS].acknowledge(alarm_id, principal.username)
    await audit.arecord(
        request.app[ENGINE], actor=principal.actor, action="alarm.ack", target=str(alarm_id),
        ok=data is not None, ip=client_ip(request),
        detail={"site": data["site"], "kind": data["kind"]} if data else {},
    )
    if data is None:
        raise web.HTTPNotFound(text='{"error": "no such alarm"}', content_type="application/json")
    return web.json_response(data)


async def _alarms_ctx(app: web.Application) -> AsyncIterator[None]:
    from hub.linkhealth.intake import LINKHEALTH

    alarms = app[ALARMS]
    lh = app.get(LINKHEALTH)
    if lh is not None:

        async def on_status(code: str, old: str, new: str) -> None:
            if new == "red":
                await alarms.raise_alarm(code, "red", {"from": old})
            elif old == "red" and new in ("green", "amber"):
                await alarms.clear(code, "red")

        lh.add_status_listener(on_status)

    from hub.control.registry import REGISTRY

    registry = app[REGISTRY]
    grace = app[SETTINGS].offline_after_s
    pending: dict[str, asyncio.Task[None]] = {}

    async def offline_after_grace(code: str) -> None:
        # A reconnect within the grace (agent restart, hub restart) is not an outage.
        await asyncio.sleep(grace)
        if not registry.is_online(code):
            await alarms.raise_alarm(code, "offline", {"grace_s": grace})

    async def on_connect(code: str, connected: bool) -> None:
        task = pending.pop(code, None)
        if task is not None:
            task.cancel()
        if connected:
            await alarms.clear(code, "offline")
        else:
            pending[code] = asyncio.create_task(offline_after_grace(code))

    registry.add_connect_listener(on_connect)

    async def startup_check() -> None:
        # After a hub (re)start, a district whose agent never comes back gets no
        # disconnect to react to: look once agents have had time to reconnect.
        await asyncio.sleep(grace + STARTUP_RECONNECT_S)
        for code in await asyncio.to_thread(_enrolled_districts, app[ENGINE]):
            if not registry.is_online(code) and code not in pending:
                await alarms.raise_alarm(code, "offline", {"after_hub_start": True})

    startup = asyncio.create_task(startup_check())
    try:
        yield
    finally:
        startup.cancel()
        for task in pending.values():
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(alarms.drain(), timeout=5)


def _enrolled_districts(engine: sa.Engine) -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Site.code)
            .join(Agent, Agent.site_id == Site.id)  # type: ignore[arg-type]
            .where(Site.kind == "district", Site.active == True)  # noqa: E712
        ).all()
        return list(rows)


def setup(app: web.Application) -> None:
    app[ALARMS] = Alarms(app[SETTINGS], app[ENGINE], app[EVENTS].publish)
    app.cleanup_ctx.append(_alarms_ctx)
    app.router.add_get("/api/v1/alarms", list_alarms)
    app.router.add_post("/api/v1/alarms/{id}/ack", ack_alarm)
