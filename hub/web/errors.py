"""Errors as JSON: the one way a route says no, and the one middleware that makes every
error on an API route a JSON body.

Handlers ``raise json_error(404, "no site UDN99", field="code")``. Whatever else goes
wrong under ``/api/`` or ``/agent/`` (aiohttp's own 404/405/413, a plain
``web.HTTPForbidden()``, an unexpected exception) reaches the caller as
``{"error": "..."}`` with the right status, never an HTML or text page: scripts and
agents parse every answer the same way. Page routes keep aiohttp's own answers
(redirects to the login, plain 404s).

Hostile input is a 400 on every route, never a 500, even where a handler did not think
of it: a value beyond what the code or the database can hold (``OverflowError``: a date
past 9999-12-31, an integer above 2**63-1 bound to SQLite; the database's own "out of
range" / "too long", ``sqlalchemy.exc.DataError``), a body aiohttp cannot parse once a
handler reads it (``HttpProcessingError``), or nesting deep enough to exhaust
the recursion limit (``RecursionError``). Each is logged as one line, without a
traceback: a scanner must not fill the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy.exc
from aiohttp import hdrs, web, web_response
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger("hub.web.errors")

API_PREFIXES = ("/api/", "/agent/")


class QuietParserErrors(logging.Filter):
    """aiohttp logs a request its HTTP parser refuses (a NUL in a header, a broken request
    line) with a traceback; the client already got its 400. One line is enough: a scanner
    must not fill the log with tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"{record.getMessage()}: {type(exc).__name__} {exc.message!r}"[:500]
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_parser_errors() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietParserErrors) for f in server_log.filters):
        server_log.addFilter(QuietParserErrors())


# The Server header of the answers no hook of ours reaches. A request aiohttp's own HTTP
# parser refuses (a broken request line, a header over 8190 bytes, a NUL in a header) is
# answered by the protocol (``RequestHandler.handle_error``) before any application, so
# neither the middlewares nor ``on_response_prepare`` run, and aiohttp offers no public hook
# for that answer (aio-libs/aiohttp#3287 and #6463, both open; PR #12890 to run the
# prepare hooks there was closed unmerged). Its Server header falls back to this module
# default, "Python/3.x aiohttp/3.y": a scanner's version match. Pinned here, in one place,
# until upstream grows a hook; tests/hub/web/test_errors.py checks it on the wire.
SERVER_NAME = "salaklang"


def hide_server_version() -> None:
    """Make aiohttp's fallback Server header name no versions (see above)."""
    if getattr(web_response, "SERVER_SOFTWARE", None) is None:
        raise RuntimeError("aiohttp.web_response.SERVER_SOFTWARE moved: re-check the Server header pin")
    web_response.SERVER_SOFTWARE = SERVER_NAME


def _status_classes() -> dict[int, type[web.HTTPException]]:
    found: dict[int, type[web.HTTPException]] = {}
    todo: list[type[web.HTTPException]] = [web.HTTPError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        code = getattr(cls, "status_code", -1)
        if code >= 400 and cls.__module__ == web.HTTPError.__module__:
            found.setdefault(code, cls)
    return found


_CLASSES = _status_classes()


def json_body(error: str, **extra: Any) -> str:
    return json.dumps({"error": error, **extra}, ensure_ascii=False)


def json_error(status: int, error: str, **extra: Any) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": error, **extra}``; raise it."""
    text = json_body(error, **extra)
    if status == 413:
        return web.HTTPRequestEntityTooLarge(
            max_size=extra.get("limit", 0), actual_size=extra.get("actual", 0), text=text,
            content_type="application/json",
        )
    if status == 405:
        allowed = extra.get("allowed", ())
        return web.HTTPMethodNotAllowed(extra.get("method", ""), allowed, text=text,
                                        content_type="application/json")
    cls = _CLASSES.get(status)
    if cls is None:
        raise ValueError(f"{status} is not an HTTP error status")
    return cls(text=text, content_type="application/json")


def _default_text(exc: web.HTTPException) -> bool:
    return exc.text in (None, "", f"{exc.status}: {exc.reason}")


def _valid_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _as_json(exc: web.HTTPException) -> web.Response:
    # A JSON body a handler built by hand (an f-string with a quote in it) is checked, not trusted.
    if exc.content_type == "application/json" and exc.text and _valid_json(exc.text):
        body = exc.text
    else:
        body = json_body(exc.reason if _default_text(exc) else str(exc.text))
    headers = {k: v for k, v in exc.headers.items() if k not in (hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH)}
    return web.Response(status=exc.status, text=body, content_type="application/json", headers=headers)


# What a request can make the code raise without any bug in it: a 400. HttpProcessingError:
# aiohttp's parsers on a body read lazily (a multipart part's broken headers).
HOSTILE_INPUT: tuple[type[BaseException], ...] = (
    OverflowError, RecursionError, sqlalchemy.exc.DataError, HttpProcessingError,
)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    api = request.path.startswith(API_PREFIXES)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not api:
            raise  # redirects pass unchanged; pages keep aiohttp's own error pages
        return _as_json(exc)
    except HOSTILE_INPUT as exc:
        log.warning("%s %s refused: %s", request.method, request.path, type(exc).__name__)
        if not api:
            raise web.HTTPBadRequest(text="400: value out of range") from None
        return web.Response(status=400, text=json_body("value out of range"), content_type="application/json")
    except Exception:
        # A WebSocket that was already upgraded cannot carry an HTTP answer any more.
        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            raise
        log.exception("%s %s failed", request.method, request.path)
        if not api:
            # The traceback is logged once above; the browser gets a plain 500 page.
            raise web.HTTPInternalServerError() from None
        return web.Response(status=500, text=json_body("internal error"), content_type="application/json")
