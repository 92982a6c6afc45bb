"""Reading a JSON request body into a validated value (pydantic): the one reader.

``body = await read_json(request, StartBody)`` gives a ``StartBody`` or raises a 400
whose JSON names the field that is wrong (``{"error": ..., "field": "sites.0"}``).
Any type pydantic can validate works (``dict[str, Any]`` for "some JSON object").
An empty body reads as ``{}``, so a model with defaults needs no body at all and a
missing required field is named as such.
"""

from __future__ import annotations

import json
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


async def read_json(request: web.Request, model: type[T]) -> T:
    text = await request.text()
    if not text.strip():
        raw: Any = {}
    else:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise json_error(400, "ไม่ใช่ JSON / body is not JSON", field="body") from exc
    try:
        value: T = _adapter(model).validate_python(raw)
    except ValidationError as exc:
        message, field = first_error(exc)
        raise json_error(400, message, field=field) from exc
    return value
