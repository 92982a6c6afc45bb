"""The reports API: the monthly report in every format, runs and their files, the series grid, one briefing."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, Literal, get_args

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from hub.keys import ENGINE, SETTINGS
from hub.reports import model as m
from hub.reports import render, service, store
from hub.reports.keys import REPORTS
from hub.web.auth import require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.i18n import current_language
from hub.web.openapi import api, respond, respond_as

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
Format = Literal["pdf", "xlsx", "csv", "html", "json"]


class MonthlyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str
    format: Format = "pdf"
    lang: Literal["th", "en"] | None = None


class SeriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: date
    to: date
    series_id: int | None = None
    format: Literal["json", "html"] = "json"
    lang: Literal["th", "en"] | None = None


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str


class RunResponse(BaseModel):
    run_id: int
    month: str


class _Out(BaseModel):
    # Exactly the keys the room builds: an extra or missing one is a 500 in the tests, not a silent drop.
    model_config = ConfigDict(extra="forbid", strict=True)


class RunFileOut(_Out):
    id: int
    name: str


class DeliveryOut(_Out):
    to: str
    state: str
    attempts: int
    last_error: str
    sent_at: str | None


class RunOut(_Out):
    id: int
    month: str
    trigger: str
    lang: str
    ok: bool
    error: str
    started_at: str
    finished_at: str | None
    total_thb: str | None
    files: list[RunFileOut]
    deliveries: list[DeliveryOut]


class CacheStatsOut(_Out):
    hits: int
    misses: int
    renders: int
    evictions: int
    replaced: int
    bytes: int
    max_bytes: int


class ReportsOut(_Out):
    formats: list[str]
    runs: list[RunOut]
    next_run: str | None
    finance_to: list[str]
    cache: CacheStatsOut


class SeriesRowOut(_Out):
    code: str
    name_th: str
    name_en: str
    cells: list[str]
    totals: dict[str, int]


class SeriesGridOut(_Out):
    title: str
    days: list[str]
    rows: list[SeriesRowOut]
    day_totals: list[dict[str, int]]


class BriefingIntervalOut(_Out):
    start: str
    end: str | None
    opened: str
    closed: str | None
    closed_th: str


class BriefingFloorOut(_Out):
    start: str
    end: str | None
    by: str
    closed: str | None
    seconds: int


class BriefingSiteOut(_Out):
    code: str
    name_th: str
    name_en: str
    presence: str
    left_early: bool
    dropped: bool
    seconds: int
    spoke_s: int
    intervals: list[BriefingIntervalOut]
    floor: list[BriefingFloorOut]


class SpeakerOut(_Out):
    code: str
    name_th: str
    seconds: int


class BriefingReportOut(_Out):
    occurrence_id: int
    title: str
    starts_at: str
    ends_at: str
    sites: list[BriefingSiteOut]
    speakers: list[SpeakerOut]


def _error(status: int, message: str, field: str) -> web.HTTPException:
    return json_error(status, message, field=field)


def _query(request: web.Request, model: type[BaseModel], rename: dict[str, str] | None = None) -> Any:
    raw = {(rename or {}).get(k, k): v for k, v in request.query.items()}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]).removesuffix("_")
        raise _error(400, f"{field}: {first['msg']}", field) from exc


def _month(text: str) -> m.Month:
    try:
        return m.Month.parse(text)
    except m.ReportError as exc:
        raise _error(400, exc.message, exc.field) from exc


async def get_monthly(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    q: MonthlyQuery = _query(request, MonthlyQuery)
    month = _month(q.month)
    lang = q.lang or current_language.get()
    app = request.app
    try:
        report = await asyncio.to_thread(service.build_monthly, app[ENGINE], app[SETTINGS], month,
                                         app[REPORTS].clock())
        body, mime, name = await asyncio.to_thread(app[REPORTS].render, report, q.format, lang)
    except m.ReportError as exc:
        raise _error(400, exc.message, exc.field) from exc
    headers = {} if q.format in ("html", "json") else {"Content-Disposition": f'attachment; filename="{name}"'}
    if q.format == "html":
        # The preview lives in a frame of the Reports page: its own inline style and chart images only.
        headers.update({"Content-Security-Policy": REPORT_CSP, "X-Frame-Options": "SAMEORIGIN"})
    return web.Response(body=body, headers={"Content-Type": mime, **headers})


@api("The report formats, the recent runs with their files and mail deliveries, the next scheduled run",
     role="viewer", response=ReportsOut, tags=("reports",))
async def get_reports(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    runs = await asyncio.to_thread(store.runs, request.app[ENGINE])
    reports = request.app[REPORTS]
    job = reports.next_run()
    return respond_as(ReportsOut, {"formats": list(get_args(Format)), "runs": runs,
                                   "next_run": job.isoformat() if job else None,
                                   "finance_to": reports.recipients(),
                                   "cache": await asyncio.to_thread(reports.cache.stats)})


@api("Produce a month's report now and mail it to finance", role="operator", body=RunBody,
     response=RunResponse, status=201, tags=("reports",))
async def post_run(request: web.Request) -> web.Response:
    await require_role(request, "operator")
    body = await read_json(request, RunBody)
    month = _month(body.month)
    reports = request.app[REPORTS]
    sites = await asyncio.to_thread(store.districts, request.app[ENGINE])
    try:
        service.check_month(month, sites, reports.clock(), request.app[SETTINGS].timezone)
    except m.ReportError as exc:
        raise _error(400, exc.message, exc.field) from exc
    run_id = await reports.run(month, "api")
    return respond(RunResponse(run_id=run_id, month=str(month)), status=201)


async def get_file(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    try:
        file_id = int(request.match_info["id"])
    except ValueError as exc:
        raise _error(404, "no such file", "id") from exc
    row = await asyncio.to_thread(store.run_file, request.app[ENGINE], file_id)
    if row is None:
        raise _error(404, "ไม่พบไฟล์ / no such file", "id")
    return web.Response(body=row.content, headers={
        "Content-Type": row.mime, "Content-Disposition": f'attachment; filename="{row.filename}"'})


@api("The attendance grid of a date range (format=html: the same grid as a page)", role="viewer",
     response=SeriesGridOut, tags=("reports",))
async def get_series(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    q: SeriesQuery = _query(request, SeriesQuery, {"from": "from_"})
    app = request.app
    try:
        grid = await asyncio.to_thread(service.build_series, app[ENGINE], app[SETTINGS], q.from_, q.to,
                                       app[REPORTS].clock(), q.series_id)
    except m.ReportError as exc:
        raise _error(400, exc.message, exc.field) from exc
    if q.format == "html":
        return web.Response(text=render.render_series_html(grid, q.lang or current_language.get()),
                            content_type="text/html")
    return respond_as(SeriesGridOut, {
        "title": grid.title, "days": [d.isoformat() for d in grid.days],
        "rows": [{"code": d.code, "name_th": d.name_th, "name_en": d.name_en, "cells": list(cells), "totals": counts}
                 for d, cells, counts in grid.rows],
        "day_totals": list(grid.day_totals)})


@api("One briefing: each district's intervals and floor grants, and who spoke how long", role="viewer",
     response=BriefingReportOut, tags=("reports",))
async def get_briefing(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    try:
        occurrence_id = int(request.match_info["id"])
    except ValueError as exc:
        raise _error(404, "no such briefing", "id") from exc
    try:
        body = await asyncio.to_thread(service.build_briefing, request.app[ENGINE], request.app[SETTINGS],
                                       occurrence_id)
    except m.ReportError as exc:
        raise _error(404, exc.message, exc.field) from exc
    return respond_as(BriefingReportOut, body)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/reports", get_reports)
    r.add_get("/api/v1/reports/monthly", get_monthly)
    r.add_post("/api/v1/reports/monthly/runs", post_run)
    r.add_get("/api/v1/reports/files/{id}", get_file)
    r.add_get("/api/v1/reports/series", get_series)
    r.add_get("/api/v1/reports/briefings/{id}", get_briefing)
