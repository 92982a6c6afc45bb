"""Live conference: program preview, layout, floor queue, microphones, agenda.

The page renders the panels; its script drives the conference room's API
(``/api/v1/conferences``, see static/js/conference.js for the calls it makes).
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.control.registry import REGISTRY
from hub.ui.schedule import layouts
from hub.web import i18n
from hub.web.auth import require_role


@aiohttp_jinja2.template("conference.html")
async def conference_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    districts = [s for s in request.app[REGISTRY].snapshot() if s["kind"] == "district"]
    lang = i18n.current_language.get()
    names = {s["code"]: s["name_th"] if lang == "th" else s["name_en"] for s in districts}
    return {"districts": districts, "layouts": layouts(), "names": names}


def setup(app: web.Application) -> None:
    app.router.add_get("/conference", conference_page, name="ui_conference")
