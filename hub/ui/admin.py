"""Administration page: inventory (read-only), operators and roles, API tokens, agent rollout.

The page renders; the changes it makes go through the JSON API of the rooms that own the
data (accounts and tokens: :mod:`hub.web.http`; releases and waves: :mod:`hub.updates.http`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
import sqlalchemy as sa
from aiohttp import web
from sqlmodel import col, select

from hub.db import session_scope
from hub.keys import ENGINE, SETTINGS
from hub.models import Link, Site
from hub.web import store
from hub.web.auth import ROLES, require_role
from hub.web.i18n import N_


def _inventory(engine: sa.Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Site, Link).join(Link, col(Link.site_id) == Site.id, isouter=True).order_by(col(Site.code))
        ).all()
        return [{"site": s.model_dump(), "link": link.model_dump() if link else None} for s, link in rows]


@aiohttp_jinja2.template("admin.html")
async def admin_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "admin")
    engine = request.app[ENGINE]
    inventory, operators, tokens = await asyncio.gather(
        asyncio.to_thread(_inventory, engine),
        asyncio.to_thread(store.list_operators, engine),
        asyncio.to_thread(store.list_tokens, engine),
    )
    return {
        "inventory": inventory,
        "operators": operators,
        "tokens": tokens,
        "roles": ROLES,
        "inventory_path": str(request.app[SETTINGS].inventory_path),
    }


def setup(app: web.Application) -> None:
    app.router.add_get("/admin", admin_page, name="ui_admin")


# Site kinds as the inventory table shows them (marked for extraction).
KIND_LABELS = {"hub": N_("hub"), "district": N_("district")}
# Role names shown in the header and the operators table (hub.web.i18n marks them through a
# variable, which extraction cannot see).
ROLE_NAMES = {"viewer": N_("viewer"), "operator": N_("operator"), "admin": N_("admin")}
