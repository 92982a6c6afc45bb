"""Reports: the monthly cost/usage report and per-briefing reports.

The monthly reports come with the reports feature (a later issue; the page says
so). Today it shows the briefings the scheduler has recorded, with their
attendance from each briefing's readiness board.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.web.auth import require_role


@aiohttp_jinja2.template("reports.html")
async def reports_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    return {}


def setup(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page, name="ui_reports")
