"""The reports room's typed application key."""

from __future__ import annotations

from aiohttp import web

from hub.reports.service import Reports

REPORTS = web.AppKey("reports", Reports)
