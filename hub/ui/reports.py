"""Reports page: the monthly report (preview, downloads, e-mail now) and its runs and deliveries."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.keys import ENGINE, SETTINGS
from hub.reports import store
from hub.reports.keys import REPORTS
from hub.reports.labels import LABELS
from hub.web.auth import require_role
from hub.web.i18n import current_language, format_datetime


@aiohttp_jinja2.template("reports.html")
async def reports_page(request: web.Request) -> dict[str, Any]:
    who = await require_role(request, "viewer")
    lang = current_language.get()
    reports = request.app[REPORTS]
    tz = request.app[SETTINGS].timezone
    now = reports.clock()
    runs = await asyncio.to_thread(store.runs, request.app[ENGINE])
    nxt = reports.next_run()
    return {
        "L": {k: (th if lang == "th" else en) for k, (th, en) in LABELS.items()},
        "default_month": str(reports.due_month(now)),
        "max_month": str(reports.due_month(now)),
        "runs": runs,
        "next_run": format_datetime(nxt, lang, tz) if nxt else "—",
        "finance_to": ", ".join(reports.recipients()) or "—",
        "can_send": who.can("operator"),
        "local": lambda iso: format_datetime(_parse(iso), lang, tz) if iso else "—",
    }


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def setup(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page, name="ui_reports")
