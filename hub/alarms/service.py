"""Alarms: a district went offline, its link went red, or it failed its self-test.

Raised in the control room (live event ``alarm``) and delivered by webhook
(JSON POST) and/or e-mail when configured. E-mail goes through the mail
room's outbox (queued in the alarm's own transaction, retried by the outbox),
never straight to SMTP. An alarm raised within ``alarms_briefing_window_min``
before a scheduled briefing of that district is *critical* instead of a
*warning*: the briefings room tells us when briefings are through
:meth:`Alarms.set_briefing_lookup`. Delivery failures are logged and
recorded on the alarm, never raised into the caller.

One open alarm per (site, kind): a flapping link does not flood the room;
the alarm clears when the site is back (online, or green/amber again), and
stays in the list until an operator acknowledges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
import sqlalchemy as sa

from hub.alarms import store
from hub.alarms.model import (
    alarm_mail,
    figures_text,
    link_figures,
    messages,
    recipients,
    severity_for,
)
from hub.db import session_scope
from hub.mail.store import enqueue
from hub.models import utcnow
from hub.settings import Settings

log = logging.getLogger("hub.alarms.service")

# Agents reconnect with a backoff capped at about 30 s: after a hub start, wait this
# long past the offline grace before calling an enrolled district absent.
STARTUP_RECONNECT_S = 35.0

BriefingLookup = Callable[[str, datetime], "datetime | Awaitable[datetime | None] | None"]
# A district's live link view (hub.linkhealth LiveLink.as_dict) by site code.
LinkView = Callable[[str], dict[str, Any]]
# The conference room's "alert" event for a district whose media reconnects too often.
FLAPPING = "media_flapping"


class Alarms:
    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        publish: Callable[[str, dict[str, Any]], None],
        wake_mail: Callable[[], None],
        is_online: Callable[[str], bool],
        link_view: LinkView | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.publish = publish
        self.wake_mail = wake_mail
        self.is_online = is_online
        self.link_view = link_view
        self._lookup: BriefingLookup | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._offline_after_grace: dict[str, asyncio.Task[None]] = {}
        self._flapping_clear: dict[str, asyncio.Task[None]] = {}

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

    async def raise_alarm(self, code: str, kind: str, detail: dict[str, Any] | None = None,
                          fields: dict[str, Any] | None = None,
                          suffix: tuple[str, str] | None = None) -> dict[str, Any] | None:
        """Open an alarm unless one of this kind is already open for the site.

        ``fields`` fill the kind's placeholders; ``suffix`` (Thai, English) is appended to
        the texts (a flapping district's link figures)."""
        now = utcnow()
        briefing_at = await self._next_briefing(code, now)
        s = self.settings
        severity = severity_for(now, briefing_at, s.alarms_briefing_window_min)
        to = recipients(s.alarms_email_to)

        def write() -> dict[str, Any] | None:
            with session_scope(self.engine) as session:
                site = store.site_by_code(session, code)
                if site is None or site.id is None or store.open_alarm(session, site.id, kind) is not None:
                    return None
                msg_th, msg_en = messages(kind, name_th=site.name_th, name_en=site.name_en, severity=severity,
                                          briefing_at=briefing_at, tz=s.timezone, fields=fields)
                if suffix:
                    msg_th, msg_en = f"{msg_th} — {suffix[0]}"[:500], f"{msg_en} — {suffix[1]}"[:500]
                row = store.Alarm(
                    site_id=site.id, kind=kind, severity=severity, raised_at=now,
                    briefing_at=briefing_at, message_th=msg_th, message_en=msg_en, detail=detail or {},
                    delivery={"email": "queued"} if to else {},
                )
                session.add(row)
                session.flush()
                data = store.alarm_json(row, code)
                # The mail is queued with the alarm, in one transaction: the outbox retries it.
                mail = alarm_mail(data)
                for addr in to:
                    enqueue(session, kind="alarm", to_addr=addr, to_name="", subject=mail.subject,
                            text=mail.text, site_code=code)
                return data

        data = await asyncio.to_thread(write)
        if data is None:
            return None
        log.warning("alarm %s %s: %s", data["severity"], code, data["message_en"])
        self.publish("alarm", data)
        if to:
            self.wake_mail()
        if s.alarms_webhook_url:
            task = asyncio.create_task(self._deliver_webhook(data))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        return data

    async def clear(self, code: str, kind: str) -> int:
        cleared = await asyncio.to_thread(store.clear, self.engine, code, kind, utcnow())
        for data in cleared:
            self.publish("alarm", data)
        return len(cleared)

    async def acknowledge(self, alarm_id: int, who: str) -> dict[str, Any] | None:
        data = await asyncio.to_thread(store.acknowledge, self.engine, alarm_id, who, utcnow())
        if data is not None:
            self.publish("alarm", data)
        return data

    def list(self, *, open_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        return store.list_alarms(self.engine, open_only=open_only, limit=limit)

    # --- delivery ----------------------------------------------------------------------------
    async def _deliver_webhook(self, data: dict[str, Any]) -> None:
        result = await self._webhook(data)
        try:
            await asyncio.to_thread(store.record_delivery, self.engine, data["id"], {"webhook": result})
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

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    # --- what raises and clears them -------------------------------------------------------------
    async def on_link_status(self, code: str, old: str, new: str) -> None:
        """Link-health status listener: red opens an alarm, green/amber again clears it."""
        if new == "red":
            await self.raise_alarm(code, "red", {"from": old})
        elif old == "red" and new in ("green", "amber"):
            await self.clear(code, "red")

    async def on_connect(self, code: str, connected: bool) -> None:
        """Registry connect listener: offline after the grace, cleared on reconnect."""
        task = self._offline_after_grace.pop(code, None)
        if task is not None:
            task.cancel()
        if connected:
            await self.clear(code, "offline")
        else:
            self._offline_after_grace[code] = asyncio.create_task(self._offline_after(code))

    async def _offline_after(self, code: str) -> None:
        # A reconnect within the grace (agent restart, hub restart) is not an outage.
        grace = self.settings.offline_after_s
        await asyncio.sleep(grace)
        if not self.is_online(code):
            await self.raise_alarm(code, "offline", {"grace_s": grace})

    async def follow_events(self, queue: asyncio.Queue[str]) -> None:
        """Read the event bus (a subscription's queue): the conference room announces a district
        whose media keeps reconnecting as an ``alert`` of kind ``media_flapping``; it becomes a
        stored alarm here. (The conference manager knows no other room: the bus is its way out.)"""
        while True:
            frame = await queue.get()
            if '"alert"' not in frame or FLAPPING not in frame:
                continue  # most frames are levels and link figures: not parsed
            try:
                event = json.loads(frame)
            except ValueError:
                continue
            data = event.get("data")
            if event.get("kind") == "alert" and isinstance(data, dict) and data.get("kind") == FLAPPING:
                try:
                    await self.on_media_flapping(data)
                except Exception:
                    log.exception("flapping alarm for %s failed", data.get("site"))

    async def on_media_flapping(self, alert: dict[str, Any]) -> dict[str, Any] | None:
        """A district reconnected its media more than 3 times in 5 minutes: an alarm with its
        link figures (link health's RTT, loss and SNMP state, the control channel's RTT).
        It clears once a whole window passes without another such alert."""
        code = str(alert.get("site") or "")
        if not code:
            return None
        figures = alert.get("figures") if isinstance(alert.get("figures"), dict) else {}
        assert isinstance(figures, dict)
        window_s = float(figures.get("window_s") or 300)
        reconnects = int(figures.get("reconnects") or 0)
        link = link_figures(self.link_view(code) if self.link_view else {})
        detail = {
            "conference_id": alert.get("conference_id"), "reconnects": reconnects, "window_s": window_s,
            "control_rtt_ms": figures.get("control_rtt_ms"), "link": link,
        }
        data = await self.raise_alarm(code, FLAPPING, detail,
                                      fields={"reconnects": reconnects, "window_min": f"{window_s / 60:g}"},
                                      suffix=figures_text(link))
        old = self._flapping_clear.pop(code, None)
        if old is not None:
            old.cancel()
        self._flapping_clear[code] = asyncio.create_task(self._clear_after(code, FLAPPING, window_s))
        return data

    async def _clear_after(self, code: str, kind: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._flapping_clear.pop(code, None)
        await self.clear(code, kind)

    async def startup_check(self) -> None:
        """After a hub (re)start, a district whose agent never comes back gets no
        disconnect to react to: look once agents have had time to reconnect."""
        await asyncio.sleep(self.settings.offline_after_s + STARTUP_RECONNECT_S)
        for code in await asyncio.to_thread(store.enrolled_districts, self.engine):
            if not self.is_online(code) and code not in self._offline_after_grace:
                await self.raise_alarm(code, "offline", {"after_hub_start": True})

    async def close(self) -> None:
        for task in [*self._offline_after_grace.values(), *self._flapping_clear.values()]:
            task.cancel()
        self._offline_after_grace.clear()
        self._flapping_clear.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.drain(), timeout=5)
