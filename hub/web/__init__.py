"""The hub's shared web machinery, installed once for every room.

- :mod:`hub.web.errors`: ``json_error`` and the middleware that makes every error on
  ``/api/`` and ``/agent/`` a JSON body;
- :mod:`hub.web.body`: ``read_json(request, Model)``, the one request-body reader;
- :mod:`hub.web.auth`: accounts, passwords, server-side sessions, bearer tokens, roles,
  CSRF, security headers, the WebSocket Origin check; :mod:`hub.web.store` holds their tables;
- :mod:`hub.web.params`: ids in paths and query strings, checked before any handler;
- :mod:`hub.web.openapi`: the OpenAPI description built from the handlers' models;
- :mod:`hub.web.i18n`: Thai-first catalogs and Buddhist-Era dates;
- :mod:`hub.web.pages`: templates, the page context, login, logout, language;
- :mod:`hub.web.http`: the routes no feature owns (health, metrics, me, audit, accounts).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from hub.keys import SETTINGS
from hub.web import http, openapi, pages
from hub.web.auth import csrf_middleware, security_headers, session_key, websocket_origin_middleware
from hub.web.errors import error_middleware, hide_server_version, quiet_parser_errors
from hub.web.i18n import CATALOGS, Catalogs
from hub.web.params import params_middleware


def setup(app: web.Application) -> None:
    """Middlewares (outermost first), catalogs, templates and the web room's routes."""
    settings = app[SETTINGS]
    storage = EncryptedCookieStorage(
        session_key(settings),
        cookie_name="salaklang_session",
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
    )
    quiet_parser_errors()
    hide_server_version()  # the parser's own 400s, which no hook reaches (errors.py)
    # Every prepared answer (errors, redirects, files, WebSocket upgrades) gets the headers.
    app.on_response_prepare.append(security_headers)
    app.middlewares.extend([
        error_middleware,  # outermost: whatever the others raise becomes a clean answer
        websocket_origin_middleware,
        params_middleware,
        session_middleware(storage),
        pages.language_middleware,
        csrf_middleware,
    ])
    app[CATALOGS] = Catalogs()
    pages.setup(app)
    http.setup(app)
    openapi.setup(app)
