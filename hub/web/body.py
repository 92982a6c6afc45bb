"""Reading a JSON request body into a validated value (pydantic): the one reader.

``body = await read_json(request, StartBody)`` gives a ``StartBody`` or raises a 400
whose JSON names the field that is wrong (``{"error": ..., "field": "sites.0"}``).
Any type pydantic can validate works (``dict[str, Any]`` for "some JSON object").
An empty body reads as ``{}``, so a model with defaults needs no body at all and a
missing required field is named as such.

Hostile bodies are a 400 naming ``body``, never a 500: nesting deeper than
:data:`MAX_DEPTH`, an integer literal longer than Python converts (4,300 digits),
``NaN`` / ``Infinity`` or a float that overflows to infinity (browsers' ``JSON.parse``
cannot read those back, so no float in the hub is anything but finite).
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from hub.web.errors import json_error

T = TypeVar("T")

_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(model)
    if adapter is None:
        adapter = _adapters[model] = TypeAdapter(model)
    return adapter


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(message, dotted field) of a validation error's first complaint; "body" for the whole body."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "body"
    return str(first["msg"]), field


MAX_DEPTH = 32  # no request model nests anywhere near this deep


class _Refused(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("number out of range")
    return value


def _no_constant(name: str) -> float:
    raise _Refused(f"{name} is not a JSON number")


def _depth_ok(text: str) -> bool:
    """Bracket nesting, counted outside strings, before the parser recurses into it."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return True  # the usual body: too few brackets to be deep, no scan
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json_text(text: str) -> Any:
    """Parse untrusted JSON; raises ``ValueError`` (with a message for the caller) when refused."""
    if not _depth_ok(text):
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except _Refused:
        raise
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError, and int() refusing a literal of more than 4,300 digits.
        raise _Refused(str(exc)[:200]) from exc


async def read_json(request: web.Request, model: type[T]) -> T:
    # Decoded here, as UTF-8 (RFC 8259), not with a charset the sender names: bytes that are
    # not UTF-8 or an unknown charset are the sender's mistake, a 400.
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json_error(400, "ไม่ใช่ UTF-8 / body is not UTF-8", field="body") from exc
    if not text.strip():
        raw: Any = {}
    else:
        try:
            raw = parse_json_text(text)
        except ValueError as exc:
            raise json_error(400, f"ไม่ใช่ JSON ที่รับได้ / body is not acceptable JSON: {exc}", field="body") from exc
    try:
        value: T = _adapter(model).validate_python(raw)
    except ValidationError as exc:
        message, field = first_error(exc)
        raise json_error(400, message, field=field) from exc
    return value
