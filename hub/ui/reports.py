"""Reports: the monthly cost/usage report and per-briefing reports.

The report generator is another feature's; this page lists what it offers
once ``/api/v1/reports`` exists. Until then it shows the briefings the
scheduler has recorded (attendance is on each briefing's readiness board).
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
