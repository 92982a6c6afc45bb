"""Administration: inventory (read-only), operators and roles, API tokens, agent rollout.

Operators and tokens get small JSON endpoints here (admin role, audited);
the page calls them with the session's CSRF token, scripts with a bearer token.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, Field
from sqlmodel import col, select

from hub import audit
from hub.db import session_scope
from hub.keys import ENGINE, SETTINGS
from hub.models import ApiToken, Link, Operator, Site, utcnow
from hub.web.auth import (
    ROLES,
    AuthError,
    Principal,
    client_ip,
    create_api_token,
    create_operator,
    require_role,
)
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.i18n import N_


def _inventory(engine: sa.Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Site, Link).join(Link, col(Link.site_id) == Site.id, isouter=True).order_by(col(Site.code))
        ).all()
        return [{"site": s.model_dump(), "link": link.model_dump() if link else None} for s, link in rows]


def _operators(engine: sa.Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(select(Operator).order_by(col(Operator.username))).all()
        return [op.model_dump(exclude={"password_hash"}) for op in rows]


def _tokens(engine: sa.Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(ApiToken, Operator)
            .join(Operator, col(Operator.id) == ApiToken.operator_id)
            .order_by(col(ApiToken.id).desc())
        ).all()
        return [
            {**t.model_dump(exclude={"token_hash"}), "username": op.username, "fingerprint": t.token_hash[:12]}
            for t, op in rows
        ]


@aiohttp_jinja2.template("admin.html")
async def admin_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "admin")
    engine = request.app[ENGINE]
    inventory, operators, tokens = await asyncio.gather(
        asyncio.to_thread(_inventory, engine),
        asyncio.to_thread(_operators, engine),
        asyncio.to_thread(_tokens, engine),
    )
    return {
        "inventory": inventory,
        "operators": operators,
        "tokens": tokens,
        "roles": ROLES,
        "inventory_path": str(request.app[SETTINGS].inventory_path),
    }


# --- operators ---------------------------------------------------------------------------


class OperatorIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    role: str = Field(pattern="^(viewer|operator|admin)$")
    display_name: str = Field(default="", max_length=200)


class OperatorPatch(BaseModel):
    role: str | None = Field(default=None, pattern="^(viewer|operator|admin)$")
    disabled: bool | None = None


async def _audit(request: web.Request, who: Principal, action: str, target: str, **detail: Any) -> None:
    await audit.arecord(request.app[ENGINE], actor=who.actor, action=action, target=target,
                        ip=client_ip(request), detail=detail)


async def create_operator_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body: OperatorIn = await read_json(request, OperatorIn)
    try:
        op = await asyncio.to_thread(
            create_operator, request.app[ENGINE], body.username, body.password, body.role, body.display_name
        )
    except AuthError as exc:
        raise json_error(400, str(exc), field="username" if "user" in str(exc) else "password") from exc
    await _audit(request, who, "operator.created", body.username, role=body.role)
    return web.json_response({"id": op.id, "username": op.username, "role": op.role}, status=201)


async def update_operator_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body: OperatorPatch = await read_json(request, OperatorPatch)
    try:
        op_id = int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(404, "no such operator") from exc
    if op_id == who.operator_id and (body.disabled or (body.role and body.role != "admin")):
        # An admin locking themselves out leaves nobody to undo it.
        raise json_error(409, "you cannot demote or disable your own account", field="role")

    def write() -> dict[str, Any] | None:
        with session_scope(request.app[ENGINE]) as session:
            op = session.get(Operator, op_id)
            if op is None:
                return None
            if body.role is not None:
                op.role = body.role
            if body.disabled is not None:
                op.disabled = body.disabled
            session.add(op)
            return {"id": op.id, "username": op.username, "role": op.role, "disabled": op.disabled}

    data = await asyncio.to_thread(write)
    if data is None:
        raise json_error(404, "no such operator")
    await _audit(request, who, "operator.updated", data["username"], role=data["role"], disabled=data["disabled"])
    return web.json_response(data)


# --- API tokens --------------------------------------------------------------------------


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    username: str | None = Field(default=None, max_length=64)


async def create_token_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body: TokenIn = await read_json(request, TokenIn)
    owner = body.username or who.username
    try:
        token = await asyncio.to_thread(create_api_token, request.app[ENGINE], owner, body.name)
    except AuthError as exc:
        raise json_error(400, str(exc), field="username") from exc
    await _audit(request, who, "token.created", owner, label=body.name)
    # Shown once: only its hash is stored.
    return web.json_response({"token": token, "username": owner, "name": body.name}, status=201)


async def revoke_token_api(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    try:
        token_id = int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(404, "no such token") from exc

    def write() -> dict[str, Any] | None:
        with session_scope(request.app[ENGINE]) as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                session.add(row)
            return {"id": row.id, "name": row.name, "revoked_at": row.revoked_at.isoformat()}

    data = await asyncio.to_thread(write)
    if data is None:
        raise json_error(404, "no such token")
    await _audit(request, who, "token.revoked", str(token_id), label=data["name"])
    return web.json_response(data)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/admin", admin_page, name="ui_admin")
    r.add_post("/api/v1/operators", create_operator_api)
    r.add_post("/api/v1/operators/{id}", update_operator_api)
    r.add_post("/api/v1/tokens", create_token_api)
    r.add_post("/api/v1/tokens/{id}/revoke", revoke_token_api)


# Site kinds as the inventory table shows them (marked for extraction).
KIND_LABELS = {"hub": N_("hub"), "district": N_("district")}
# Role names shown in the header and the operators table (hub.web.i18n marks them through a
# variable, which extraction cannot see).
ROLE_NAMES = {"viewer": N_("viewer"), "operator": N_("operator"), "admin": N_("admin")}
