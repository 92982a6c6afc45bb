"""The control room's pages beyond the login and the board (issue 6).

One module per page type; each exposes ``setup(app)``. Pages are
server-rendered jinja2 with small static scripts; a page whose backend is
not there yet says so and lights up when the route appears
(:mod:`hub.ui.common`).
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hub.ui import admin, board, common, conference, district, reports, schedule
from hub.web import i18n


def setup(app: web.Application) -> None:
    app[common.FEATURES_KEY] = {}
    env = aiohttp_jinja2.get_env(app)
    env.globals["features"] = lambda: common.features(app)
    # Dates without a time (billing start…): Buddhist Era in Thai, like fmt_dt.
    env.globals["fmt_day"] = lambda d: i18n.format_day(d, i18n.current_language.get())
    for page in (board, schedule, conference, district, reports, admin):
        page.setup(app)
