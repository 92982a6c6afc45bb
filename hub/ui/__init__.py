"""The control room: server-rendered pages, one module per page, and their live feed.

Pages are jinja2 templates (``templates/``) with small static scripts
(``hub/static/js``) that call the rooms' JSON APIs; every feature is always installed,
so a page shows its real panels. :mod:`hub.ui.live` is the WebSocket the pages listen on.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hub.ui import admin, board, conference, district, live, reports, schedule
from hub.web import i18n


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app)
    # Dates without a time (billing start…): Buddhist Era in Thai, like fmt_dt.
    env.globals["fmt_day"] = lambda d: i18n.format_day(d, i18n.current_language.get())
    for page in (board, schedule, conference, district, reports, admin, live):
        page.setup(app)
