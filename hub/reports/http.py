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


async def get_reports(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    runs = await asyncio.to_thread(store.runs, request.app[ENGINE])
    reports = request.app[REPORTS]
    job = reports.next_run()
    return web.json_response({"formats": list(get_args(Format)), "runs": runs,
                              "next_run": job.isoformat() if job else None,
                              "finance_to": reports.recipients(),
                              "cache": await asyncio.to_thread(reports.cache.stats)})


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
    return web.json_response(RunResponse(run_id=run_id, month=str(month)).model_dump(), status=201)


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
    return web.json_response({
        "title": grid.title, "days": [d.isoformat() for d in grid.days],
        "rows": [{"code": d.code, "name_th": d.name_th, "name_en": d.name_en, "cells": list(cells), "totals": counts}
                 for d, cells, counts in grid.rows],
        "day_totals": list(grid.day_totals)})


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
    return web.json_response(body)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/reports", get_reports)
    r.add_get("/api/v1/reports/monthly", get_monthly)
    r.add_post("/api/v1/reports/monthly/runs", post_run)
    r.add_get("/api/v1/reports/files/{id}", get_file)
    r.add_get("/api/v1/reports/series", get_series)
    r.add_get("/api/v1/reports/briefings/{id}", get_briefing)
