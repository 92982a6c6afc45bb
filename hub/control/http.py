"""The control room's JSON API: sites with live status, agents, enrolment, commands.

Every handler names its request and response models (:func:`hub.web.openapi.api`) and
answers through them, so the OpenAPI description is the code's own.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from hub import audit
from hub.control import enrolment, store
from hub.control.registry import REGISTRY, AgentOffline, CommandRefused
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond
from site_agent import protocol as p


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


class SitesQuery(BaseModel):
    include_hub: str = Field(default="", max_length=8, description="1 or true: list the province hub too.")


class SiteOut(BaseModel):
    code: str
    kind: str
    name_th: str
    name_en: str
    online: bool
    last_seen: str | None
    agent_version: str
    enrolled: bool
    distance_km: float | None
    latitude: float | None
    longitude: float | None
    contact_phone: str
    contact_email: str
    link: dict[str, Any] | None
    status: dict[str, Any] | None
    control_rtt_ms: float | None


class SiteLiveOut(BaseModel):
    code: str
    name_th: str
    name_en: str
    kind: str
    online: bool
    last_seen: float | None
    agent_version: str
    enrolled: bool
    connected_since: float | None
    control_rtt_ms: float | None
    status: dict[str, Any] | None
    link: dict[str, Any] | None
    last_seen_iso: str | None


class AgentOut(BaseModel):
    site: str
    name_th: str
    version: str
    hostname: str
    os: str
    enrolled_at: str
    last_seen: str | None
    last_ip: str
    online: bool


@api("Every active site with its live status", role="viewer", query=SitesQuery, response=list[SiteOut],
     tags=("sites",))
async def sites(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    include_hub = request.query.get("include_hub") in ("1", "true")
    registry = request.app[REGISTRY]

    rows = await asyncio.to_thread(store.active_sites, request.app[ENGINE])
    out = []
    for site in rows:
        if site.kind == "hub" and not include_hub:
            continue
        live = registry.live.get(site.code)
        item = SiteOut(**{
            "code": site.code,
            "kind": site.kind,
            "name_th": site.name_th,
            "name_en": site.name_en,
            "online": bool(live and live.online) if site.kind == "district" else True,
            "last_seen": iso(live.last_seen) if live else None,
            "agent_version": live.agent_version if live else "",
            "enrolled": bool(live and live.enrolled),
            "distance_km": site.distance_km,
            "latitude": site.latitude,
            "longitude": site.longitude,
            "contact_phone": site.contact_phone,
            "contact_email": site.contact_email,
            "link": live.link if live else None,
            "status": live.status if live else None,
            "control_rtt_ms": live.control_rtt_ms if live else None,
        })
        out.append(item)
    return respond(out)


@api("One site's live state", role="viewer", response=SiteLiveOut, tags=("sites",))
async def site_detail(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    code = request.match_info["code"]
    registry = request.app[REGISTRY]
    live = registry.live.get(code)
    if live is None:
        raise json_error(404, f"no site {code}", field="code")
    return respond(SiteLiveOut(**live.as_dict(), last_seen_iso=iso(live.last_seen)))


@api("Every enrolled agent", role="viewer", response=list[AgentOut], tags=("sites",))
async def agents(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    online = set(request.app[REGISTRY].online_codes())
    rows = await asyncio.to_thread(store.agent_listing, request.app[ENGINE], online)
    return respond([AgentOut(**row) for row in rows])


# --- enrolment ---------------------------------------------------------------------


class EnrolRequest(BaseModel):
    code: str = Field(min_length=4, max_length=32)
    hostname: str = Field(default="", max_length=255)
    os: str = Field(default="", max_length=64)
    agent_version: str = Field(default="", max_length=32)


class EnrolmentCodeOut(BaseModel):
    site: str
    name_th: str
    code: str = Field(description="XXXXX-XXXXX, one-time.")
    expires_in_s: int
    command: str = Field(description="What to run on the district PC.")


class EnrolOut(BaseModel):
    site: str
    name_th: str
    name_en: str
    token: str = Field(description="The site token (shown once).")
    hub_url: str
    update_public_key: str = Field(description="The province's Ed25519 key the agent pins for updates.")


class BroadcastOut(BaseModel):
    sent: int
    took_ms: float


class CommandOut(BaseModel):
    ok: bool
    detail: str
    result: p.AnyReply | None


_enrol_failures: dict[str, list[float]] = {}


@api("A one-time enrolment code for a district", role="admin", response=EnrolmentCodeOut, status=201,
     tags=("enrolment",))
async def issue_enrolment_code(request: web.Request) -> web.Response:
    principal = await require_role(request, "admin")
    code = request.match_info["code"]
    settings = request.app[SETTINGS]
    try:
        one_time, site = await asyncio.to_thread(
            enrolment.issue_code, request.app[ENGINE], code, settings.enrolment_code_ttl_s, principal.actor
        )
    except LookupError as exc:
        raise json_error(404, str(exc), field="code") from exc
    except enrolment.EnrolmentRefused as exc:
        raise json_error(409, exc.reason, message=exc.message_en, message_th=exc.message_th) from exc
    await audit.arecord(request.app[ENGINE], actor=principal.actor, action="enrol.code_issued",
                        target=code, ip=client_ip(request))
    hub_url = settings.effective_public_url
    return respond(EnrolmentCodeOut(
        site=site.code, name_th=site.name_th, code=one_time, expires_in_s=settings.enrolment_code_ttl_s,
        command=f"python -m site_agent enroll --hub {hub_url} --code {one_time}",
    ), status=201)


@api("Exchange a one-time code for a site token (the agent's enrolment)", role=None, body=EnrolRequest,
     response=EnrolOut, status=201, tags=("enrolment",))
async def enrol(request: web.Request) -> web.Response:
    ip = client_ip(request)
    now = time.monotonic()
    recent = [t for t in _enrol_failures.get(ip, []) if now - t < 300]
    _enrol_failures[ip] = recent
    if len(recent) >= 20:  # codes are short: stop guessing, not clerks who mistype
        raise json_error(429, "too many wrong codes; wait 5 minutes",
                         message_th="ใส่รหัสผิดหลายครั้งเกินไป กรุณารอ 5 นาทีแล้วลองใหม่")
    body: EnrolRequest = await read_json(request, EnrolRequest)
    engine = request.app[ENGINE]
    try:
        enrolled = await asyncio.to_thread(
            enrolment.redeem_code, engine, body.code, hostname=body.hostname, os_name=body.os
        )
    except enrolment.EnrolmentRefused as exc:
        recent.append(now)
        await audit.arecord(engine, actor="anonymous", action="enrol.refused", target=exc.site_code,
                            ok=False, ip=ip, detail={"reason": exc.reason, "hostname": body.hostname})
        raise json_error(400, exc.reason, message=exc.message_en, message_th=exc.message_th) from exc
    await audit.arecord(engine, actor=f"agent:{enrolled.site_code}", action="enrol.ok",
                        target=enrolled.site_code, ip=ip,
                        detail={"hostname": body.hostname, "replaced": enrolled.replaced_previous})
    request.app[REGISTRY].load_sites()
    request.app[EVENTS].publish("site", request.app[REGISTRY].live[enrolled.site_code].as_dict())
    return respond(EnrolOut(
        site=enrolled.site_code, name_th=enrolled.name_th, name_en=enrolled.name_en, token=enrolled.token,
        hub_url=request.app[SETTINGS].effective_public_url,
        # The agent pins it: only packages the province signed will ever install there.
        update_public_key=request.app[SETTINGS].update_public_key,
    ), status=201)


# --- commands ----------------------------------------------------------------------


# What an operator may ask an agent to do: look and diagnose, never reconfigure. The other
# commands (join, media answers, floor state, link-health targets and SNMP credentials...)
# are the hub's own, sent by the rooms that own them: an operator account that could send
# linkhealth.configure could point a district's probes and SNMP polls at any host.
OperatorCommand = Annotated[
    p.Ping | p.GetStatus | p.SelfTest | p.UpdateCheck | p.MediaStatus | p.SendLogs,
    Field(discriminator="type"),
]
OPERATOR_COMMAND_TYPES = p.types_of(OperatorCommand)
_operator_adapter: TypeAdapter[OperatorCommand] = TypeAdapter(OperatorCommand)


class CommandRequest(BaseModel):
    """An operator's command: ``name`` is one of :data:`OperatorCommand`, ``args`` its fields."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$",
                      json_schema_extra={"examples": ["ping", "selftest"]})
    args: dict[str, Any] = Field(default_factory=dict)
    sites: list[str] | None = Field(default=None, max_length=1000)
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    def command(self) -> p.HubCommand[Any]:
        """The typed command, validated here: the agent never gets a command it cannot read."""
        if self.name not in p.COMMAND_TYPES:
            raise json_error(400, f"unknown command {self.name!r}", field="name",
                             allowed=sorted(OPERATOR_COMMAND_TYPES))
        if self.name not in OPERATOR_COMMAND_TYPES:
            raise json_error(403, f"{self.name!r} is the hub's own command, not an operator's", field="name",
                             allowed=sorted(OPERATOR_COMMAND_TYPES))
        try:
            command: p.HubCommand[Any] = _operator_adapter.validate_python({**self.args, "type": self.name})
            return command
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"][1:])
            raise json_error(400, first["msg"], field=f"args.{where}" if where else "args") from exc


@api("Send an allow-listed command to many agents without waiting for answers", role="operator",
     body=CommandRequest, response=BroadcastOut, tags=("commands",))
async def broadcast(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    body: CommandRequest = await read_json(request, CommandRequest)
    command = body.command()
    started = time.perf_counter()
    sent = await request.app[REGISTRY].broadcast(command, body.sites)
    took_ms = (time.perf_counter() - started) * 1000
    if body.name != "ping":  # probes (the control bench) would flood the audit log
        await audit.arecord(request.app[ENGINE], actor=principal.actor, action="command.broadcast",
                            target=body.name, ip=client_ip(request), detail={"sent": sent})
    return respond(BroadcastOut(sent=sent, took_ms=round(took_ms, 2)))


@api("Send an allow-listed command to one agent and wait for its typed answer", role="operator",
     body=CommandRequest, response=CommandOut, tags=("commands",))
async def site_command(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    code = request.match_info["code"]
    body: CommandRequest = await read_json(request, CommandRequest)
    command = body.command()
    ok, detail, result = True, "", None
    try:
        result = await request.app[REGISTRY].send_command(code, command, timeout=body.timeout_s)
    except AgentOffline as exc:
        raise json_error(409, "agent offline", site=code) from exc
    except TimeoutError as exc:
        raise json_error(504, "agent did not answer in time", site=code) from exc
    except CommandRefused as exc:
        ok, detail = False, exc.detail
    await audit.arecord(request.app[ENGINE], actor=principal.actor, action="command.sent",
                        target=code, ip=client_ip(request), detail={"name": body.name, "ok": ok})
    return respond(CommandOut(ok=ok, detail=detail, result=result))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/sites", sites)
    r.add_get("/api/v1/sites/{code}", site_detail)
    r.add_post("/api/v1/sites/{code}/enrolment-codes", issue_enrolment_code)
    r.add_post("/api/v1/sites/{code}/commands", site_command)
    r.add_get("/api/v1/agents", agents)
    r.add_post("/api/v1/enrol", enrol)
    r.add_post("/api/v1/commands/broadcast", broadcast)
