"""Typed keys for what the kernel stores on the application (aiohttp ``web.AppKey``).

Only the kernel's own objects live here; each room defines its keys beside the
thing they hold (``REGISTRY`` in :mod:`hub.control.registry`, ``CONFERENCES`` in
:mod:`hub.conferences.manager`, ``CATALOGS`` in :mod:`hub.web.i18n`, ...), so this
module imports no room and no room import goes in a circle through it.
"""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web

from hub.events import EventBus
from hub.metrics import Metrics
from hub.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", sa.Engine)
EVENTS = web.AppKey("events", EventBus)
METRICS = web.AppKey("metrics", Metrics)
# True under `hub demo` (simulated districts the board can stop and start), False otherwise.
DEMO = web.AppKey("demo", bool)
