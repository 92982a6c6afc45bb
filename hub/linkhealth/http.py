"""Link-health routes: a district's live figures, its history and its link events."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from hub.control.registry import REGISTRY
from hub.keys import ENGINE
from hub.linkhealth import store
from hub.linkhealth.keys import LINKHEALTH
from hub.linkhealth.store import SiteInfo
from hub.web.auth import require_role
from hub.web.errors import json_error
from hub.web.openapi import api, respond, respond_as


class HistoryQuery(BaseModel):
    range: Literal["24h", "7d", "30d"] = "24h"


class EventsQuery(BaseModel):
    limit: int = Field(default=200, description="At most this many events (clamped to 1…1000).")


class HistoryBucket(BaseModel):
    """One bucket of the chart (hub.linkhealth.store._bucket_json); None where it had no sample."""

    start: str
    seconds: int
    samples: int
    rtt_median_ms: float | None
    rtt_min_ms: float | None
    rtt_p5_ms: float | None
    rtt_p95_ms: float | None
    rtt_max_ms: float | None
    jitter_median_ms: float | None
    probes_sent: int
    probes_lost: int
    loss_pct: float | None


class LinkHistoryOut(BaseModel):
    """A district's link history over one range: the chart's buckets, their length, the thresholds."""

    site: str
    range: Literal["24h", "7d", "30d"]
    bucket_s: int
    tmax_ms: float
    thresholds: dict[str, float]
    buckets: list[HistoryBucket]


class LinkLiveOut(BaseModel):
    code: str
    status: str
    status_since: float | None
    probe: dict[str, Any] | None
    webrtc: dict[str, Any] | None
    snmp: dict[str, Any] | None
    hub_snmp: dict[str, Any] | None
    name_th: str
    name_en: str
    online: bool
    plan_down_mbps: float
    plan_up_mbps: float
    tmax_ms: float
    thresholds: dict[str, float]


class LinkEventOut(BaseModel):
    id: int | None
    at: str
    kind: str
    detail: dict[str, Any]


async def _site_or_404(request: web.Request) -> SiteInfo:
    code = request.match_info["code"]
    info = await request.app[LINKHEALTH].site(code)
    if info is None:
        raise json_error(404, f"no site {code}", field="code")
    return info


@api("A district's live link figures (probes, RTCP, SNMP) and its thresholds", role="viewer",
     response=LinkLiveOut, tags=("link health",))
async def link_live(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    info = await _site_or_404(request)
    lh = request.app[LINKHEALTH]
    out = LinkLiveOut(
        **lh.live_of(info.code).as_dict(),
        name_th=info.name_th,
        name_en=info.name_en,
        online=request.app[REGISTRY].is_online(info.code),
        plan_down_mbps=info.plan_down_mbps,
        plan_up_mbps=info.plan_up_mbps,
        tmax_ms=lh.settings.linkhealth_tmax_ms,
        thresholds=lh.thresholds.to_json(),
    )
    return respond(out)


@api("A district's link history (24 hours, 7 or 30 days)", role="viewer", query=HistoryQuery,
     response=LinkHistoryOut, tags=("link health",))
async def link_history(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    info = await _site_or_404(request)
    try:
        query = HistoryQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise json_error(400, "range must be 24h, 7d or 30d", field="range") from exc
    data = await asyncio.to_thread(request.app[LINKHEALTH].history, info, query.range)
    return respond_as(LinkHistoryOut, data)


@api("A district's link events (online, offline, went red, recovered, router rebooted)", role="viewer",
     query=EventsQuery, response=list[LinkEventOut], tags=("link health",))
async def link_events(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    info = await _site_or_404(request)
    try:
        query = EventsQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise json_error(400, "limit must be a number", field="limit") from exc
    limit = max(1, min(1000, query.limit))
    rows = await asyncio.to_thread(store.link_events, request.app[ENGINE], info.site_id, limit)
    return respond([LinkEventOut(**r) for r in rows])


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/sites/{code}/link", link_live)
    r.add_get("/api/v1/sites/{code}/link/history", link_history)
    r.add_get("/api/v1/sites/{code}/events", link_events)
