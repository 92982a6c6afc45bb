"""Server-rendered pages: templates, the page context, login, logout and the language switch.

Templates live in the repository's ``templates/`` (shipped in the wheel as
``hub/templates``); every visible string goes through gettext.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session

from hub import audit
from hub.keys import DEMO, ENGINE, SETTINGS
from hub.paths import STATIC_DIR, templates_dir
from hub.web import i18n
from hub.web.auth import (
    AuthError,
    change_password,
    client_ip,
    csrf_token,
    current_principal,
    end_session,
    require_role,
    session_id,
    session_principal,
    start_session,
    verify_password,
)
from hub.web.i18n import CATALOGS

LANG_COOKIE = "lang"


@web.middleware
async def language_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    lang = request.cookies.get(LANG_COOKIE) or request.app[SETTINGS].default_language
    if lang not in i18n.LANGUAGES:
        lang = "th"
    i18n.current_language.set(lang)
    return await handler(request)


# Routes that never render a page. aiohttp_jinja2 runs context processors for
# every request, so these skip the session work below.
NON_PAGE_PREFIXES = ("/api/", "/agent/", "/static/", "/metrics", "/healthz")


async def _context(request: web.Request) -> dict[str, Any]:
    if request.path.startswith(NON_PAGE_PREFIXES):
        return {}
    lang = i18n.current_language.get()
    tz = request.app[SETTINGS].timezone
    # aiohttp_jinja2 runs this before the handler. The user is whoever the request
    # authenticates as (a session, or an operator's bearer token: a script may fetch a
    # page too); a token that is not an operator's (a district's site token) leaves the
    # page anonymous here, and the page's own require_role refuses it with a 401.
    try:
        principal = await current_principal(request)
    except web.HTTPException:
        principal = await session_principal(request)
    return {
        "lang": lang,
        "other_lang": "en" if lang == "th" else "th",
        # Each language is named in itself, so it is not translated.
        "language_names": i18n.LANGUAGE_NAMES,
        "user": principal,
        "csrf_token": await csrf_token(request),
        "fmt_epoch": lambda v: i18n.format_epoch(v, lang, tz),
        "fmt_dt": lambda v: i18n.format_datetime(v, lang, tz),
        "demo": request.app[DEMO],
        "path": request.path,
    }


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        extensions=["jinja2.ext.i18n"],
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        context_processors=[_context],
    )
    env.globals["static"] = lambda path: str(app.router["static"].url_for(filename=path))
    catalogs = app[CATALOGS]
    env.install_gettext_callables(  # type: ignore[attr-defined]
        catalogs.gettext, catalogs.ngettext, newstyle=True
    )


# --- login ----------------------------------------------------------------------

_failures: dict[str, list[float]] = {}
LOGIN_WINDOW_S = 600
LOGIN_MAX_FAILURES = 10


def _safe_next(target: str) -> str:
    parts = urlsplit(target)
    # Only same-site paths: an open redirect would let a phishing link borrow our login.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    return {"next": _safe_next(request.query.get("next", "/")), "error": None}


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    ip = client_ip(request)
    now = time.monotonic()
    recent = [t for t in _failures.get(ip, []) if now - t < LOGIN_WINDOW_S]
    _failures[ip] = recent
    engine = request.app[ENGINE]
    if len(recent) >= LOGIN_MAX_FAILURES:
        await audit.arecord(engine, actor=f"anonymous:{username}", action="login.throttled", ok=False, ip=ip)
        context = {"next": target, "error": "throttled"}
        return aiohttp_jinja2.render_template("login.html", request, context, status=429)
    operator = await asyncio.to_thread(verify_password, engine, username, password)
    if operator is None or operator.id is None:
        recent.append(now)
        await audit.arecord(
            engine, actor=f"anonymous:{username}"[:100], action="login.failed", target=username, ok=False, ip=ip
        )
        context = {"next": target, "error": "bad_credentials"}
        return aiohttp_jinja2.render_template("login.html", request, context, status=401)
    _failures.pop(ip, None)
    session = await new_session(request)  # a fresh cookie and session id: no fixation
    # Only the random id goes in the cookie; who it is and which role is read from the
    # database at every request.
    session["sid"] = await asyncio.to_thread(start_session, engine, operator.id, ip)
    session["csrf"] = secrets.token_urlsafe(24)
    await audit.arecord(engine, actor=f"operator:{operator.username}", action="login.ok", ip=ip)
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.StreamResponse:
    principal = await current_principal(request)
    session = await get_session(request)
    sid = session_id(session)
    if sid:
        # Ended on the server: a copy of the cookie replayed later finds a dead session.
        await asyncio.to_thread(end_session, request.app[ENGINE], sid, "logout")
    session.invalidate()
    if principal is not None:
        await audit.arecord(request.app[ENGINE], actor=principal.actor, action="logout", ip=client_ip(request))
    raise web.HTTPSeeOther("/login")


@aiohttp_jinja2.template("account.html")
async def account_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    return {"done": request.query.get("done") == "1", "error": None}


async def account_password(request: web.Request) -> web.StreamResponse:
    """The browser form of POST /api/v1/me/password (CSRF checked by the middleware)."""
    who = await require_role(request, "viewer")
    form = await request.post()
    session = await get_session(request)
    try:
        await asyncio.to_thread(
            change_password, request.app[ENGINE], who.operator_id, str(form.get("current_password", "")),
            str(form.get("new_password", "")), session_id(session),
        )
    except AuthError as exc:
        await audit.arecord(request.app[ENGINE], actor=who.actor, action="password.change_refused",
                            target=who.username, ok=False, ip=client_ip(request))
        return aiohttp_jinja2.render_template("account.html", request, {"done": False, "error": str(exc)}, status=400)
    await audit.arecord(request.app[ENGINE], actor=who.actor, action="password.changed", target=who.username,
                        ip=client_ip(request))
    raise web.HTTPSeeOther("/account?done=1")


async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in i18n.LANGUAGES:
        raise web.HTTPNotFound()
    referer = request.headers.get("Referer", "/")
    parts = urlsplit(referer)
    back = parts.path + (f"?{parts.query}" if parts.query else "") if parts.netloc == request.host else "/"
    response = web.HTTPSeeOther(_safe_next(back or "/"))
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    raise response


def setup(app: web.Application) -> None:
    setup_templates(app)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/account", account_page)
    app.router.add_post("/account/password", account_password)
    app.router.add_get("/lang/{lang}", switch_language)
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
