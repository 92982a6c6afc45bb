"""Inventory room: the province's sites and links, from YAML (hub.inventory.loader) into the database
(hub.inventory.sync); typed models in hub.inventory.model.

``setup(app)`` syncs the configured inventory at start-up, after the migrations and
before any room reads the sites.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hub.inventory.loader import load_inventory
from hub.inventory.sync import sync_inventory
from hub.keys import ENGINE, SETTINGS

__all__ = ["setup"]

log = logging.getLogger("hub.inventory")


async def _sync(app: web.Application) -> AsyncIterator[None]:
    path = app[SETTINGS].inventory_path
    inventory = await asyncio.to_thread(load_inventory, path)
    result = await asyncio.to_thread(sync_inventory, app[ENGINE], inventory)
    log.info("inventory %s: %s", path, result)
    yield


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_sync)
