"""The OpenAPI 3.1 description of ``/api/v1``, built from the handlers' own pydantic models.

A handler declares what it reads and answers with :func:`api`::

    @api("Who am I", role="viewer", response=MeOut)
    async def me(request): ...
        return respond(MeOut(...))

``body`` is the model :func:`hub.web.body.read_json` validates, ``query`` a model of the
query string, ``responses`` the models by status: the description is made of the very
types the handler validates and serialises with, so it cannot drift from the code. A route
without :func:`api` is still listed (every route is fuzzed): its answers are described as
"any JSON", its errors as :class:`ErrorBody`.

Served at ``/api/v1/openapi.json`` (public: it names no secret) and shown on
``/admin/api`` for people.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import to_json

import hub
from hub.web.auth import require_role
from hub.web.params import MAX_ID, is_id_name

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

OPENAPI_KEY = "__salaklang_openapi__"
API_PREFIX = "/api/v1/"
ROLE_TEXT = {
    None: "No login.",
    "viewer": "Any logged-in operator (role viewer or above).",
    "operator": "Role operator or admin.",
    "admin": "Role admin.",
    "agent": "A district agent: headers X-Salaklang-Site and X-Salaklang-Token.",
}


class ErrorBody(BaseModel):
    """Every refusal: ``error`` says why; ``field`` names the wrong input when there is one."""

    model_config = ConfigDict(extra="allow")

    error: str
    field: str | None = None


@dataclass(frozen=True)
class Operation:
    summary: str
    role: str | None
    body: Any = None
    query: type[BaseModel] | None = None
    responses: dict[int, Any] = field(default_factory=dict)
    body_media_type: str = "application/json"
    tags: tuple[str, ...] = ()
    file_media_type: str = "application/octet-stream"


def api(
    summary: str,
    *,
    role: str | None,
    body: Any = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    responses: dict[int, Any] | None = None,
    body_media_type: str = "application/json",
    tags: tuple[str, ...] = (),
    file_media_type: str = "application/octet-stream",
) -> Callable[[H], H]:
    """Describe a handler (see the module docstring); ``response`` is the model answered with ``status``."""
    described = dict(responses or {})
    if response is not None or not described:
        described.setdefault(status, response)
    op = Operation(summary, role, body, query, described, body_media_type, tags, file_media_type)

    def mark(handler: H) -> H:
        setattr(handler, OPENAPI_KEY, op)
        return handler

    return mark


def respond(value: BaseModel | list[Any] | dict[str, Any], status: int = 200) -> web.Response:
    """A JSON answer serialised by its models (the ones the description names).

    A float that is not finite is written as null (never the ``Infinity`` browsers'
    ``JSON.parse`` refuses), should one get past the models' own checks.
    """
    return web.Response(body=to_json(value, inf_nan_mode="null"), status=status, content_type="application/json")


@functools.lru_cache(maxsize=256)
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def respond_as(kind: Any, data: Any, status: int = 200) -> web.Response:
    """Answer a room's plain data checked against the model its description names.

    For rooms whose services build dicts: ``data`` is validated by ``kind`` (a model or
    ``list[Model]``), and answered with exactly the keys it had (``exclude_unset``), so the
    answer is what the handler always sent and the description cannot drift from it: a
    mismatch is a 500 in the tests and the fuzz, not a silent lie in the description.
    """
    adapter = _adapter(kind)
    value = adapter.validate_python(data)
    return respond(adapter.dump_python(value, mode="json", exclude_unset=True), status=status)


class _Schemas:
    """Collects component schemas; each model once, referenced as ``#/components/schemas/X``."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, kind: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        schema = TypeAdapter(kind).json_schema(
            mode=mode, ref_template="#/components/schemas/{model}", schema_generator=GenerateJsonSchema
        )
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            name = kind.__name__
            self.components.setdefault(name, schema)
            return {"$ref": f"#/components/schemas/{name}"}
        return schema


_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _path_parameters(path: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for name in _PARAM.findall(path):
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 0, "maximum": MAX_ID} if is_id_name(name) else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path), params


def _query_parameters(model: type[BaseModel], schemas: _Schemas) -> list[dict[str, Any]]:
    out = []
    for name, info in model.model_fields.items():
        prop = TypeAdapter(info.annotation or str).json_schema(mode="validation")
        if info.description:
            prop["description"] = info.description
        for key in ("ge", "le"):
            for meta in info.metadata:
                if hasattr(meta, key):
                    prop["minimum" if key == "ge" else "maximum"] = getattr(meta, key)
        out.append({"name": info.alias or name, "in": "query", "required": info.is_required(), "schema": prop})
    return out


def _operation(method: str, path_params: list[dict[str, Any]], handler: Any, schemas: _Schemas) -> dict[str, Any]:
    op: Operation | None = getattr(handler, OPENAPI_KEY, None)
    error = {"description": "Refused", "content": {"application/json": {"schema": schemas.of(ErrorBody, "serialization")}}}
    if op is None:
        return {
            "summary": (handler.__doc__ or handler.__name__).strip().splitlines()[0],
            "parameters": path_params,
            "responses": {
                "default": {"description": "Not described yet: any JSON", "content": {"application/json": {"schema": {}}}},
            },
            **({"requestBody": {"content": {"application/json": {"schema": {}}}}} if method in ("POST", "PUT", "PATCH") else {}),
        }
    out: dict[str, Any] = {
        "summary": op.summary,
        "description": ROLE_TEXT.get(op.role, op.role or ""),
        "parameters": path_params + (_query_parameters(op.query, schemas) if op.query else []),
        "responses": {},
    }
    if op.tags:
        out["tags"] = list(op.tags)
    if op.role == "agent":
        out["security"] = [{"site": [], "siteToken": []}]
    elif op.role is not None:
        out["security"] = [{"bearer": []}, {"session": []}]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {op.body_media_type: {"schema": schemas.of(op.body, "validation")}}}
    for status, model in sorted(op.responses.items()):
        if model is None:
            out["responses"][str(status)] = {"description": "OK"}
        elif model is bytes:
            out["responses"][str(status)] = {
                "description": "A file", "content": {op.file_media_type: {"schema": {}}},
            }
        else:
            out["responses"][str(status)] = {
                "description": "OK" if status < 300 else "Answer",
                "content": {"application/json": {"schema": schemas.of(model, "serialization")}},
            }
    out["responses"]["4XX"] = error
    return out


def build_spec(app: web.Application, server_url: str = "") -> dict[str, Any]:
    """The description of every ``/api/v1`` route of ``app``."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        raw = info.get("path") or info.get("formatter")
        if not raw or not raw.startswith(API_PREFIX) or route.method in ("HEAD", "*"):
            continue
        path, params = _path_parameters(raw)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route.method, params, route.handler, schemas)
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Salaklang hub API",
            "version": hub.__version__,
            "description": "The province hub's JSON API. Errors are always a JSON object with `error`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An operator's API token."},
                "session": {"type": "apiKey", "in": "cookie", "name": "salaklang_session",
                            "description": "The control room's login (state changes need X-CSRF-Token)."},
                "site": {"type": "apiKey", "in": "header", "name": "X-Salaklang-Site"},
                "siteToken": {"type": "apiKey", "in": "header", "name": "X-Salaklang-Token"},
            },
        },
    }
    if server_url:
        spec["servers"] = [{"url": server_url}]
    return spec


# Built at the first request, when every room has added its routes, then kept.
SPEC = web.AppKey("openapi_spec", dict)


def _spec(app: web.Application) -> dict[str, Any]:
    cache: dict[str, Any] = app[SPEC]
    if not cache:
        cache.update(build_spec(app))
    return cache


@api("This description (OpenAPI 3.1)", role=None, response=dict[str, Any], tags=("meta",))
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(_spec(request.app))


@aiohttp_jinja2.template("api_docs.html")
async def api_docs_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    return {"spec": _spec(request.app)}


def setup(app: web.Application) -> None:
    app[SPEC] = {}
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_get("/admin/api", api_docs_page, name="api_docs")
