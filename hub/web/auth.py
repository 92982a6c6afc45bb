"""Who is asking: operator accounts, passwords, API tokens, sessions, CSRF and roles.

Browsers log in with a password (argon2id) and get a server-side session: a row in
``web_sessions`` whose random id travels in an encrypted, HttpOnly cookie. Every
request re-reads the session and its account, so logout, an idle or absolute
timeout, disabling the account or a password change end it at the next request,
and a demotion takes effect at once (the role is never taken from the cookie).
Every state-changing browser request must carry the session's CSRF token (form
field ``csrf_token`` or header ``X-CSRF-Token``). Scripts send
``Authorization: Bearer <token>``; bearer requests carry no ambient credential,
so they need no CSRF token.

Passwords follow OWASP ASVS 2.1: 12 to 128 characters, any characters, no
composition rules, and none of the 20,000 common passwords shipped in
``common-passwords.txt.gz``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gzip
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp_session import get_session
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select

from hub import audit
from hub.db import session_scope
from hub.keys import ENGINE, SETTINGS
from hub.models import utcnow
from hub.settings import Settings
from hub.web.errors import SERVER_NAME, json_error
from hub.web.store import ApiToken, Operator, WebSession, end_sessions

ROLES = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
_hasher = PasswordHasher()
TOKEN_PREFIX = "slk_"
MIN_TOKEN_LENGTH = 16
MIN_PASSWORD_LENGTH = 12  # ASVS 2.1.1
MAX_PASSWORD_LENGTH = 128  # ASVS 2.1.2: long passphrases pass, argon2 is not handed megabytes
# The list Django ships (Royce Williams' 20,000 most common passwords, lower-cased; BSD licence).
COMMON_PASSWORDS = Path(__file__).resolve().parent / "common-passwords.txt.gz"


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


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def password_problem(password: str, username: str = "") -> str | None:
    """Why a new password is refused (Thai / English), or None (ASVS 2.1.1, 2.1.2, 2.1.7, 2.1.9)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"รหัสผ่านต้องยาวอย่างน้อย {MIN_PASSWORD_LENGTH} ตัวอักษร / "
                f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        return (f"รหัสผ่านยาวได้ไม่เกิน {MAX_PASSWORD_LENGTH} ตัวอักษร / "
                f"password: at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.strip().lower()
    if folded in common_passwords() or (username and folded == username.lower()):
        return "รหัสผ่านนี้ใช้กันทั่วไป เดาง่าย กรุณาเลือกใหม่ / password: too common, choose another"
    return None


# --- accounts ---------------------------------------------------------------


def create_operator(
    engine: sa.Engine, username: str, password: str, role: str, display_name: str = ""
) -> Operator:
    if role not in _RANK:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise AuthError("username: 1–64 letters, digits, '.' or '_'")
    problem = password_problem(password, username)
    if problem:
        raise AuthError(problem)
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


def change_password(engine: sa.Engine, operator_id: int, current: str, new: str, keep_session: str = "") -> None:
    """The user's own change: the current password is required; their other sessions end."""
    with session_scope(engine) as session:
        operator = session.get(Operator, operator_id)
        if operator is None or operator.disabled:
            raise AuthError("no such account")
        try:
            _hasher.verify(operator.password_hash, current)
        except (VerificationError, InvalidHashError) as exc:
            raise AuthError("รหัสผ่านปัจจุบันไม่ถูกต้อง / current password is wrong") from exc
        username = operator.username
    set_password(engine, operator_id, new, "password_changed", keep_session=keep_session, username=username)


def set_password(
    engine: sa.Engine, operator_id: int, new: str, reason: str, *, keep_session: str = "", username: str = ""
) -> bool:
    """Store a new password (policy checked) and end the account's sessions; False: no such account.

    An admin's reset ends every session of the account (``reason="password_reset"``); a
    user's own change keeps the session it was made from (``keep_session``: its id).
    """
    problem = password_problem(new, username)
    if problem:
        raise AuthError(problem)
    with session_scope(engine) as session:
        operator = session.get(Operator, operator_id)
        if operator is None:
            return False
        operator.password_hash = _hasher.hash(new)
        session.add(operator)
    end_sessions(engine, operator_id, reason, keep_hash=sha256_hex(keep_session) if keep_session else "")
    return True


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


# --- server-side sessions -------------------------------------------------------


def start_session(engine: sa.Engine, operator_id: int, ip: str) -> str:
    """A new login session; returns its id (the cookie's value, 256 random bits, stored hashed)."""
    sid = secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        session.add(WebSession(operator_id=operator_id, token_hash=sha256_hex(sid), ip=ip[:64]))
    return sid


def end_session(engine: sa.Engine, sid: str, reason: str) -> None:
    with session_scope(engine) as session:
        row = session.exec(select(WebSession).where(WebSession.token_hash == sha256_hex(sid))).first()
        if row is not None and row.ended_at is None:
            row.ended_at, row.end_reason = utcnow(), reason
            session.add(row)


def principal_for_session(engine: sa.Engine, sid: str, settings: Settings) -> Principal | None:
    """The account behind a live session, read now: None when ended, timed out or disabled."""
    with session_scope(engine) as session:
        row = session.exec(
            select(WebSession, Operator)
            .join(Operator, Operator.id == WebSession.operator_id)  # type: ignore[arg-type]
            .where(WebSession.token_hash == sha256_hex(sid))
        ).first()
        if row is None:
            return None
        web_session, operator = row
        if web_session.ended_at is not None or operator.id is None:
            return None
        now = utcnow()
        idle = timedelta(seconds=settings.session_idle_timeout_s)
        reason = ""
        if operator.disabled:
            reason = "disabled"
        elif now - web_session.created_at >= timedelta(seconds=settings.session_max_age_s):
            reason = "expired"
        elif now - web_session.last_seen_at >= idle:
            reason = "idle"
        if reason:
            web_session.ended_at, web_session.end_reason = now, reason
            session.add(web_session)
            return None
        # Refresh the idle clock at most every tenth of the idle time (and at least each
        # minute): a page's polling must not turn every read into a write.
        if now - web_session.last_seen_at >= min(idle / 10, timedelta(minutes=1)):
            web_session.last_seen_at = now
            session.add(web_session)
        return Principal(operator.username, operator.role, operator.id, "session")


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


SESSION_PRINCIPAL_KEY = "salaklang.session_principal"


async def session_principal(request: web.Request) -> Principal | None:
    """The logged-in browser user, ignoring any Authorization header (read once per request)."""
    if SESSION_PRINCIPAL_KEY in request:
        cached: Principal | None = request[SESSION_PRINCIPAL_KEY]
        return cached
    session = await get_session(request)
    sid = session.get("sid")
    principal: Principal | None = None
    if isinstance(sid, str):
        principal = await asyncio.to_thread(
            principal_for_session, request.app[ENGINE], sid, request.app[SETTINGS]
        )
        if principal is None:
            session.pop("sid", None)  # ended or timed out: the cookie forgets it too
    request[SESSION_PRINCIPAL_KEY] = principal
    return principal


def session_id(session: Any) -> str:
    """The server-side session id in an aiohttp session ("" when not logged in)."""
    sid = session.get("sid")
    return sid if isinstance(sid, str) else ""


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
        try:
            form = await request.post()
        except (ValueError, LookupError, HttpProcessingError) as exc:  # a broken form body
            raise json_error(400, "the form cannot be read", field="body") from exc
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


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer, error or not, page, API, file or WebSocket."""
    response.headers["Server"] = SERVER_NAME
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.app[SETTINGS].secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def origin_allowed(request: web.Request, origin: str) -> bool:
    """Same origin as the request, the hub's public URL, or one the settings name."""
    settings = request.app[SETTINGS]
    own = {f"{scheme}://{request.host}".lower() for scheme in ("http", "https")}
    own.add(_origin(settings.effective_public_url))
    own.update(_origin(o) for o in settings.allowed_origins)
    return origin.lower() in own


@web.middleware
async def websocket_origin_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Browsers send ``Origin`` on every WebSocket and cookies with it: a page on another
    site must not open the control room's live feed with the operator's session
    (cross-site WebSocket hijacking). Agents are not browsers and send no Origin."""
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and not origin_allowed(request, origin):
            raise json_error(403, "WebSocket from another origin refused", origin=origin[:200])
    return await handler(request)
