"""Alarm routes: the list and the operator's acknowledgement."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub import audit
from hub.alarms.keys import ALARMS
from hub.keys import ENGINE
from hub.web.auth import client_ip, require_role
from hub.web.errors import json_error
from hub.web.openapi import api, respond


class AlarmOut(BaseModel):
    """One alarm as the API, the event bus and the webhook carry it."""

    model_config = ConfigDict(extra="forbid")

    id: int
    site: str
    kind: str
    severity: str
    raised_at: str | None
    briefing_at: str | None
    message_th: str
    message_en: str
    detail: dict[str, Any]
    cleared_at: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    delivery: dict[str, Any]


class ListQuery(BaseModel):
    open: bool = Field(default=False, description="true: only the alarms nobody has acknowledged yet.")


def _out(data: dict[str, Any]) -> AlarmOut:
    return AlarmOut.model_validate(data)


@api("Alarms, newest first (offline, red link, not ready, media flapping...)", role="viewer", query=ListQuery,
     response=list[AlarmOut], tags=("alarms",))
async def list_alarms(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    try:
        query = ListQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise json_error(400, "open ต้องเป็น 1/0 / open must be 1 or 0", field="open") from exc
    data = await asyncio.to_thread(request.app[ALARMS].list, open_only=query.open)
    return respond([_out(a) for a in data])


@api("Acknowledge an alarm (audited)", role="operator", response=AlarmOut, tags=("alarms",))
async def ack_alarm(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    try:
        alarm_id = int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(404, "no such alarm", field="id") from exc
    data = await request.app[ALARMS].acknowledge(alarm_id, principal.username)
    await audit.arecord(
        request.app[ENGINE], actor=principal.actor, action="alarm.ack", target=str(alarm_id),
        ok=data is not None, ip=client_ip(request),
        detail={"site": data["site"], "kind": data["kind"]} if data else {},
    )
    if data is None:
        raise json_error(404, "no such alarm", field="id")
    return respond(_out(data))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/alarms", list_alarms)
    app.router.add_post("/api/v1/alarms/{id}/ack", ack_alarm)
