"""Today / schedule: coming briefings with countdowns, series, invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from hub.briefings.model import SONGKRAN_TITLE, songkran_preset, songkran_year
from hub.conferences.layout import LAYOUTS
from hub.control.registry import REGISTRY
from hub.keys import SETTINGS
from hub.web.auth import require_role


def layouts() -> tuple[str, ...]:
    return tuple(LAYOUTS)


def songkran_defaults(tz: str, mail_from: str) -> dict[str, Any]:
    """What the preset button fills in; the same rule as the scheduler's preset."""
    today = datetime.now(ZoneInfo(tz)).date()
    raw = songkran_preset(year=songkran_year(today), districts=[], organizer_email=mail_from, tz=tz)
    raw["title"] = SONGKRAN_TITLE
    return raw


@aiohttp_jinja2.template("schedule.html")
async def schedule_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    settings = request.app[SETTINGS]
    districts = [s for s in request.app[REGISTRY].snapshot() if s["kind"] == "district"]
    return {
        "districts": districts,
        "layouts": layouts(),
        "preset": songkran_defaults(settings.timezone, settings.mail_from),
        "mail_from": settings.mail_from,
    }


def setup(app: web.Application) -> None:
    app.router.add_get("/schedule", schedule_page, name="ui_schedule")
