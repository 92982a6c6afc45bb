"""The web room's tables: control-room operator accounts, their API tokens and their login
sessions, and the queries the administration page and its JSON API make on them.

The account operations themselves (create, verify a password, make a token) are in
:mod:`hub.web.auth`; this module is their storage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select

from hub.db import session_scope
from hub.models import utcnow


class Operator(SQLModel, table=True):
    __tablename__ = "operators"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)  # argon2id
    role: str = Field(max_length=16)  # viewer | operator | admin
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    disabled: bool = False


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="operators.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A browser login. The cookie carries only a random id; its SHA-256 is the key here, so
    the session can be ended (logout, disable, password change) and a copied cookie dies with it."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="operators.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    # logout | idle | expired | disabled | password_changed | password_reset
    end_reason: str = Field(default="", max_length=32)
    ip: str = Field(default="", max_length=64)


def end_sessions(engine: sa.Engine, operator_id: int, reason: str, keep_hash: str = "") -> int:
    """End every live session of an account (but ``keep_hash``); returns how many."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(WebSession).where(
                WebSession.operator_id == operator_id,
                col(WebSession.ended_at).is_(None),
                WebSession.token_hash != keep_hash,
            )
        ).all()
        now = utcnow()
        for row in rows:
            row.ended_at, row.end_reason = now, reason
            session.add(row)
        return len(rows)


def list_operators(engine: sa.Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(select(Operator).order_by(col(Operator.username))).all()
        return [op.model_dump(exclude={"password_hash"}) for op in rows]


def list_tokens(engine: sa.Engine) -> list[dict[str, Any]]:
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


def update_operator(
    engine: sa.Engine, operator_id: int, role: str | None, disabled: bool | None
) -> dict[str, Any] | None:
    """Change an account's role or disabled flag; None when there is no such account."""
    with session_scope(engine) as session:
        op = session.get(Operator, operator_id)
        if op is None:
            return None
        if role is not None:
            op.role = role
        if disabled is not None:
            op.disabled = disabled
        session.add(op)
        if disabled:
            # The account's open browsers are logged out at once, not at their next check.
            now = utcnow()
            for row in session.exec(
                select(WebSession).where(WebSession.operator_id == operator_id, col(WebSession.ended_at).is_(None))
            ).all():
                row.ended_at, row.end_reason = now, "disabled"
                session.add(row)
        return {"id": op.id, "username": op.username, "role": op.role, "disabled": op.disabled}


def revoke_token(engine: sa.Engine, token_id: int) -> dict[str, Any] | None:
    """Revoke a token (once; revoking again keeps the first time); None when there is no such token."""
    with session_scope(engine) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            session.add(row)
        revoked: datetime = row.revoked_at
        return {"id": row.id, "name": row.name, "revoked_at": revoked.isoformat()}


def username_of(engine: sa.Engine, operator_id: int) -> str:
    """The account's username ("" when there is no such account)."""
    with session_scope(engine) as session:
        op = session.get(Operator, operator_id)
        return op.username if op is not None else ""
