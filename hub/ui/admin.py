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

from hub import audit
from hub.db import session_scope
from hub.keys import ENGINE, SETTINGS
from hub.models import Link, Site
from hub.web import store
from hub.web.auth import ROLES, AuthError, client_ip, require_role, set_password
from hub.web.i18n import N_
from hub.web.params import path_id


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
        # Named only when it is an account here: the query string is not trusted to say anything.
        "reset_done": next((o["username"] for o in operators if o["username"] == request.query.get("reset")), ""),
    }


async def _operator_or_404(request: web.Request) -> dict[str, Any]:
    op_id = path_id(request)
    username = await asyncio.to_thread(store.username_of, request.app[ENGINE], op_id)
    if not username:
        raise web.HTTPNotFound(text="ไม่มีบัญชีนี้ / no such operator")
    return {"id": op_id, "username": username}


async def reset_password_page(request: web.Request) -> web.StreamResponse:
    await require_role(request, "admin")
    op = await _operator_or_404(request)
    return aiohttp_jinja2.render_template("admin_password.html", request, {"operator": op, "error": None})


async def reset_password_submit(request: web.Request) -> web.StreamResponse:
    """The browser form of POST /api/v1/operators/{id}/password (CSRF checked by the middleware):
    the same policy, every session of the account ends, audited as ``password.reset``."""
    who = await require_role(request, "admin")
    op = await _operator_or_404(request)
    form = await request.post()
    engine = request.app[ENGINE]
    try:
        await asyncio.to_thread(set_password, engine, op["id"], str(form.get("new_password", "")),
                                "password_reset", username=op["username"])
    except AuthError as exc:
        await audit.arecord(engine, actor=who.actor, action="password.reset", target=str(op["id"]), ok=False,
                            ip=client_ip(request), detail={"username": op["username"], "refused": str(exc)})
        context = {"operator": op, "error": str(exc)}
        return aiohttp_jinja2.render_template("admin_password.html", request, context, status=400)
    await audit.arecord(engine, actor=who.actor, action="password.reset", target=str(op["id"]),
                        ip=client_ip(request), detail={"username": op["username"], "via": "admin page"})
    raise web.HTTPSeeOther(f"/admin?reset={op['username']}#operators")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin", admin_page, name="ui_admin")
    app.router.add_get("/admin/operators/{id}/password", reset_password_page, name="ui_reset_password")
    app.router.add_post("/admin/operators/{id}/password", reset_password_submit)


# Site kinds as the inventory table shows them (marked for extraction).
KIND_LABELS = {"hub": N_("hub"), "district": N_("district")}
# Role names shown in the header and the operators table (hub.web.i18n marks them through a
# variable, which extraction cannot see).
ROLE_NAMES = {"viewer": N_("viewer"), "operator": N_("operator"), "admin": N_("admin")}
