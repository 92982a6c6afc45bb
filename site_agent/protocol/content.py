"""A district presents (issue 14): what the agent and the hub's ``/agent/content`` routes exchange.

Over HTTP, not the control socket: a file of up to the upload limit would hold
the socket (and its heartbeats) for as long as it takes to send, while HTTP
streams it beside them. The same site token authenticates both
(``X-Salaklang-Site`` / ``X-Salaklang-Token``, as for the agent's log upload).

    POST /agent/content                  multipart ``file`` → DistrictUploadAnswer (202)
    GET  /agent/content/stage            → DistrictStage
    POST /agent/content/stage/{verb}     DistrictStep → DistrictStage (next, prev, goto, end)
    POST /agent/content/screen           → DistrictStage: this district's live screen goes on the content tile
    POST /agent/content/screen/stop      → DistrictStage: it comes off, the layout from before returns
    refusals: 4xx with ``code``, ``th``, ``en`` (:class:`DistrictRefusal`)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StepVerb = Literal["next", "prev", "goto", "end"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DistrictUploadAnswer(_Model):
    item_id: int
    conference_id: int
    name: str
    status: str  # converting | ready | failed
    # shown as soon as it is converted (the district holds the floor or the chair allowed it)
    will_show: bool = True


class DistrictStep(_Model):
    page: int = Field(0, ge=0)  # goto only


class DistrictStage(_Model):
    conference_id: int
    allowed: bool  # may this district present now (floor or the chair's permission)
    mine: bool  # the content on screen is this district's: it may step it
    item_id: int | None = None
    name: str = ""
    page: int = 0
    pages: int = 0
    status: str = ""  # the item's conversion status (converting, ready, failed)
    screen: bool = False  # the content shown is this district's live screen


class DistrictRefusal(_Model):
    code: str
    th: str
    en: str
