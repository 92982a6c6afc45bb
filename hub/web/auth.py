"""Who is asking: operator accounts, API tokens, sessions, CSRF and roles.

Browsers log in with a password (argon2id) and get an encrypted session
cookie; every state-changing browser request must carry the session's CSRF
token (form field ``csrf_token`` or header ``X-CSRF-Token``). Scripts send
``Authorization: Bearer <token>``; bearer requests carry no ambient
credential, so they need no CSRF token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web
from aiohttp_session import get_session
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select

from hub import audit
from hub.db import session_scope
from hub.keys import ENGINE, SETTINGS
from hub.models import utcnow
from hub.settings import Settings
from hub.web.errors import json_error
from hub.web.store import ApiToken, Operator

ROLES = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
_hasher = PasswordHasher()
TOKEN_PREFIX = "slk_"
MIN_TOKEN_LENGTH = 16
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    operator_id: int
    via: str  # "session" or "token"

    def can(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]

    @property
    def actor(self) -> str:
        return f"operator:{self.username}"


class AuthError(ValueError):
    """Bad input to an account operation (CLI or admin page)."""


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- accounts ---------------------------------------------------------------


def create_operator(
    engine: sa.Engine, username: str, password: str, role: str, display_name: str = ""
) -> Operator:
    if role not in _RANK:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise AuthError("username: 1–64 letters, digits, '.' or '_'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    with session_scope(engine) as session:
        if session.exec(select(Operator).where(Operator.username == username)).first():
            raise AuthError(f"user {username!r} already exists")
        operator = Operator(
            username=username,
            display_name=display_name or username,
            password_hash=_hasher.hash(password),
            role=role,
        )
        session.add(operator)
        session.flush()
        session.refresh(operator)
        return operator


def verify_password(engine: sa.Engine, username: str, password: str) -> Operator | None:
    with session_scope(engine) as session:
        operator = session.exec(select(Operator).where(Operator.username == username)).first()
        if operator is None or operator.disabled:
            # Spend the same time as a real check so usernames cannot be probed.
            _hasher.hash(password)
            return None
        try:
            _hasher.verify(operator.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(operator.password_hash):
            operator.password_hash = _hasher.hash(password)
        operator.last_login_at = utcnow()
        session.add(operator)
        return operator


def create_api_token(
    engine: sa.Engine, username: str, name: str, token: str | None = None
) -> str:
    """Make a bearer token for an operator; returns it once (only its hash is kept)."""
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    if len(token) < MIN_TOKEN_LENGTH:
        raise AuthError(f"token: at least {MIN_TOKEN_LENGTH} characters")
    with session_scope(engine) as session:
        operator = session.exec(select(Operator).where(Operator.username == username)).first()
        if operator is None or operator.id is None:
            raise AuthError(f"no user {username!r}")
        session.add(ApiToken(operator_id=operator.id, name=name, token_hash=sha256_hex(token)))
    return token


def principal_for_token(engine: sa.Engine, token: str) -> Principal | None:
    with session_scope(engine) as session:
        row = session.exec(
            select(ApiToken, Operator)
            .join(Operator, Operator.id == ApiToken.operator_id)  # type: ignore[arg-type]
            .where(ApiToken.token_hash == sha256_hex(token))
        ).first()
        if row is None:
            return None
        api_token, operator = row
        if api_token.revoked_at is not None or operator.disabled or operator.id is None:
            return None
        now = utcnow()
        # One write a minute at most: a busy script must not turn reads into writes.
        if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=1):
            api_token.last_used_at = now
            session.add(api_token)
        return Principal(operator.username, operator.role, operator.id, "token")


# --- session key -----------------------------------------------------------


def session_key(settings: Settings) -> bytes:
    """32-byte key for the cookie: from the named env var, else kept in the data dir."""
    from_env = os.environ.get(settings.session_secret_env)
    if from_env:
        key = base64.urlsafe_b64decode(from_env)
        if len(key) != 32:
            raise ValueError(f"{settings.session_secret_env} must be 32 bytes, urlsafe-base64 encoded")
        return key
    path = Path(settings.data_dir) / "session.key"
    if path.exists():
        return base64.urlsafe_b64decode(path.read_bytes().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.urlsafe_b64encode(key))
    return key


# --- request side -------------------------------------------------------------

PRINCIPAL_KEY = "salaklang.principal"
_token_audited: dict[str, float] = {}


def client_ip(request: web.Request) -> str:
    return request.remote or ""


async def _principal(request: web.Request) -> Principal | None:
    cached = request.get(PRINCIPAL_KEY)
    if cached is not None:
        return cached
    engine = request.app[ENGINE]
    header = request.headers.get("Authorization", "")
    principal: Principal | None = None
    if header.startswith("Bearer "):
        token = header[7:].strip()
        principal = await asyncio.to_thread(principal_for_token, engine, token)
        digest = sha256_hex(token)[:12]
        if principal is None:
            await audit.arecord(
                engine, actor="anonymous", action="token.refused", target=digest, ok=False,
                ip=client_ip(request), detail={"path": request.path},
            )
            raise json_error(401, "invalid or revoked API token")
        # Token use is audited once an hour per token, not on every request.
        if time.monotonic() - _token_audited.get(digest, -1e9) > 3600:
            _token_audited[digest] = time.monotonic()
            await audit.arecord(
                engine, actor=principal.actor, action="token.used", target=digest,
                ip=client_ip(request), detail={"path": request.path},
            )
    else:
        principal = await session_principal(request)
    request[PRINCIPAL_KEY] = principal
    return principal


async def current_principal(request: web.Request) -> Principal | None:
    return await _principal(request)


async def session_principal(request: web.Request) -> Principal | None:
    """The logged-in browser user, ignoring any Authorization header."""
    session = await get_session(request)
    if "uid" not in session:
        return None
    return Principal(session["username"], session["role"], session["uid"], "session")


async def require_role(request: web.Request, role: str = "viewer") -> Principal:
    """The caller, if logged in with at least ``role``; 401/403 otherwise."""
    principal = await _principal(request)
    wants_html = "text/html" in request.headers.get("Accept", "") and not request.path.startswith("/api/")
    if principal is None:
        if wants_html:
            raise web.HTTPFound(f"/login?next={request.path_qs}")
        raise json_error(401, "login required")
    if not principal.can(role):
        raise json_error(403, f"needs role {role}", your_role=principal.role)
    return principal


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return str(token)


# Requests that authenticate by something other than the browser session.
CSRF_EXEMPT_PREFIXES = ("/api/v1/enrol", "/agent/")


@web.middleware
async def csrf_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return await handler(request)
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return await handler(request)
    session = await get_session(request)
    expected = session.get("csrf")
    presented = request.headers.get("X-CSRF-Token")
    if presented is None and request.content_type in (
        "application/x-www-form-urlencoded", "multipart/form-data"
    ):
        form = await request.post()
        value = form.get("csrf_token")
        presented = value if isinstance(value, str) else None
    if not expected or not presented or not hmac.compare_digest(str(expected), presented):
        raise json_error(403, "missing or wrong CSRF token")
    return await handler(request)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'"
)


@web.middleware
async def security_headers_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(exc, request)
        raise
    _secure(response, request)
    return response


def _secure(response: web.StreamResponse, request: web.Request) -> None:
    if response.prepared:
        return
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.app[SETTINGS].secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
