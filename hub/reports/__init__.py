"""Monthly cost and usage reports for finance and management (issue 13).

``model`` (pure arithmetic), ``store`` (own tables, queries over the other
rooms' records), ``service`` (building reports, the monthly job), the
renderers (``render``, ``pdf``, ``xlsxout``, ``csvout``, ``charts``),
``cache`` (rendered files by content hash, filled by the monthly job),
``http`` (the API) and ``cli`` (``python -m hub report``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from hub.briefings.keys import BRIEFINGS
from hub.inventory.loader import load_inventory
from hub.keys import ENGINE, SETTINGS
from hub.mail.keys import OUTBOX
from hub.reports import http, store
from hub.reports.keys import REPORTS
from hub.reports.service import Reports


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    # Runs after the database and briefings contexts (FEATURES order): the inventory is synced,
    # the outbox and the one scheduler exist.
    settings, engine = app[SETTINGS], app[ENGINE]
    inventory = await asyncio.to_thread(load_inventory, settings.inventory_path)
    await asyncio.to_thread(store.sync_tariffs, engine, inventory)
    outbox = app[OUTBOX]
    reports = Reports(engine, settings, outbox)
    app[REPORTS] = reports
    outbox.add_attachment_source("report", reports.attachments)
    task: asyncio.Task[None] | None = None
    if settings.reports_monthly_job:
        reports.install(app[BRIEFINGS].scheduler)
        if reports.recipients():
            # In the background: rendering every format takes seconds and must not hold up the start.
            task = asyncio.create_task(reports.catch_up(), name="reports-catch-up")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_lifecycle)
    http.add_routes(app)
