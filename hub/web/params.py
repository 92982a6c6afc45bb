"""Typed URL parameters: ids in paths and query strings, checked once for every room.

A path or query parameter named ``id`` or ``<thing>_id`` is a database id: ASCII digits
that fit a signed 64-bit integer. :func:`params_middleware` refuses anything else before
a handler runs (404 for a path, 400 naming the field for a query), so ``?series_id=²``
(``str.isdigit`` says yes, ``int`` says no) or ``/api/v1/alarms/9223372036854775808``
(too big for SQLite and PostgreSQL) never reach a handler or the database. A new room
gets this by naming its parameters that way; handlers read them with :func:`path_id`
and :func:`query_id`, and other numbers with :func:`query_int`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.web.errors import json_error

MAX_ID = 2**63 - 1  # BIGINT / SQLite INTEGER
_ID_NAME = re.compile(r"^(id|[a-z][a-z0-9_]*_id)$")
_DIGITS = re.compile(r"^[0-9]{1,19}$")  # ASCII only: re's \d would take Thai and Arabic digits


def is_id_name(name: str) -> bool:
    return bool(_ID_NAME.match(name))


def parse_id(text: str) -> int | None:
    """The id ``text`` spells, or None when it is not one (not ASCII digits, or above 2**63-1)."""
    if not _DIGITS.match(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def path_id(request: web.Request, name: str = "id") -> int:
    """An id from the path (already checked by the middleware; checked again for direct calls)."""
    value = parse_id(request.match_info.get(name, ""))
    if value is None:
        raise json_error(404, f"no such {name}", field=name)
    return value


def query_id(request: web.Request, name: str) -> int | None:
    """An optional id from the query string; 400 when present and not an id."""
    text = request.query.get(name)
    if text is None or text == "":
        return None
    value = parse_id(text)
    if value is None:
        raise json_error(400, f"{name}: not an id", field=name)
    return value


def query_int(request: web.Request, name: str, default: int, *, lo: int, hi: int) -> int:
    """An integer from the query string within [lo, hi]; 400 naming the field otherwise."""
    text = request.query.get(name)
    if text is None or text == "":
        return default
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
    if not _DIGITS.match(digits):
        raise json_error(400, f"{name}: not a whole number", field=name)
    value = sign * int(digits)
    if not lo <= value <= hi:
        raise json_error(400, f"{name}: must be between {lo} and {hi}", field=name)
    return value


@web.middleware
async def params_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    for name, text in request.match_info.items():
        if is_id_name(name) and parse_id(text) is None:
            raise web.HTTPNotFound(text=f"no such {name}")
    for name in set(request.query):
        if is_id_name(name):
            for text in request.query.getall(name):
                if text != "" and parse_id(text) is None:
                    raise json_error(400, f"{name}: not an id", field=name)
    return await handler(request)
