"""The clerk's presenting: upload a file, share the screen, step its own pages.

Over the agent's authenticated HTTP channel (the site token in
``X-Salaklang-Site`` / ``X-Salaklang-Token``, as the log upload does), not the
control socket: a file of many megabytes would hold the socket and its
heartbeats for as long as it takes to send. The hub's answers and refusals
are the typed models of :mod:`site_agent.protocol.content`; a refusal carries
its Thai and English text for the window.

Screen sharing is live video: the hub is asked first (``/agent/content/screen``,
the same rule as a file: the floor or the chair's leave), then the FFmpeg
capture of the screen (:mod:`site_agent.content.screen`) goes on the media
endpoint's screen stream. While it is shared the stage is read every
:data:`WATCH_S` seconds, so the capture stops by itself when the operator ends
it or other content replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import aiohttp

from site_agent.config import AgentConfig
from site_agent.content.screen import ScreenTrack, ScreenUnavailable, open_screen
from site_agent.media.endpoint import MediaEndpoint, endpoint_of
from site_agent.protocol.content import DistrictRefusal, DistrictStage, DistrictUploadAnswer

log = logging.getLogger("site_agent.content")

SITE_HEADER = "X-Salaklang-Site"
TOKEN_HEADER = "X-Salaklang-Token"
WATCH_S = 2.0  # how often a sharing agent checks that its screen is still the content shown


class PresentRefused(Exception):
    """The hub said no (not allowed now, bad file…): ``th`` and ``en`` are for the clerk."""

    def __init__(self, status: int, refusal: DistrictRefusal) -> None:
        self.status = status
        self.refusal = refusal
        super().__init__(f"{refusal.th} / {refusal.en}")


class Presenter:
    def __init__(self, config: AgentConfig, timeout_s: float = 600.0, endpoint: MediaEndpoint | None = None) -> None:
        self.config = config
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._endpoint = endpoint
        self.sharing: ScreenTrack | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> MediaEndpoint | None:
        """The media endpoint the screen goes out on (the one this agent installed, unless given)."""
        return self._endpoint or endpoint_of(self.config.site)

    @property
    def headers(self) -> dict[str, str]:
        return {SITE_HEADER: self.config.site, TOKEN_HEADER: self.config.token}

    def _url(self, path: str) -> str:
        return self.config.hub_url.rstrip("/") + path

    async def _answer(self, resp: aiohttp.ClientResponse) -> Any:
        try:
            data = await resp.json()
        except (aiohttp.ContentTypeError, ValueError):
            data = {}
        if resp.status >= 400:
            refusal = DistrictRefusal(code=str(data.get("code", resp.status)),
                                      th=str(data.get("th") or data.get("error") or "ส่งไม่สำเร็จ"),
                                      en=str(data.get("en") or data.get("error") or f"refused ({resp.status})"))
            raise PresentRefused(resp.status, refusal)
        return data

    async def upload(self, path: Path) -> DistrictUploadAnswer:
        """Send a file; the hub converts it and shows it when this district may present."""
        form = aiohttp.FormData()
        with path.open("rb") as fh:
            form.add_field("file", fh, filename=path.name)
            async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                    http.post(self._url("/agent/content"), data=form, headers=self.headers) as resp:
                return DistrictUploadAnswer.model_validate(await self._answer(resp))

    async def stage(self) -> DistrictStage:
        async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                http.get(self._url("/agent/content/stage"), headers=self.headers) as resp:
            return DistrictStage.model_validate(await self._answer(resp))

    async def step(self, verb: str, page: int = 0) -> DistrictStage:
        """next | prev | goto (page) | end, on this district's own content."""
        async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                http.post(self._url(f"/agent/content/stage/{verb}"), json={"page": page},
                          headers=self.headers) as resp:
            return DistrictStage.model_validate(await self._answer(resp))

    async def share_screen(self, display: str | None = None) -> DistrictStage:
        """Share this PC's screen live; refused (:class:`PresentRefused`) as a file would be."""
        endpoint = self.endpoint
        if endpoint is None or not endpoint.in_conference:
            raise ScreenUnavailable("ยังไม่ได้เข้าร่วมภาพและเสียงของการประชุม จึงแชร์หน้าจอไม่ได้",
                                    "this district is not in a briefing's video, so the screen cannot be shared")
        # Open the grabber first: a PC that cannot capture says so before anything changes on screen.
        track = await asyncio.to_thread(open_screen, display)
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                    http.post(self._url("/agent/content/screen"), headers=self.headers) as resp:
                stage = DistrictStage.model_validate(await self._answer(resp))
        except BaseException:
            track.stop()
            raise
        endpoint.share_screen(track)
        self.sharing = track
        if self._watch is None or self._watch.done():
            self._watch = asyncio.create_task(self._watch_stage())
        return stage

    async def stop_screen(self) -> DistrictStage:
        """Stop sharing: the capture ends and the hub brings back the layout from before."""
        self._stop_capture()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                http.post(self._url("/agent/content/screen/stop"), headers=self.headers) as resp:
            return DistrictStage.model_validate(await self._answer(resp))

    def _stop_capture(self) -> None:
        track, self.sharing = self.sharing, None
        endpoint = self.endpoint
        if endpoint is not None and track is not None and endpoint.screen is track:
            endpoint.stop_screen()
        elif track is not None:
            track.stop()

    async def _watch_stage(self) -> None:
        """Stop capturing once the screen is no longer what the briefing shows (ended, replaced)."""
        while self.sharing is not None:
            await asyncio.sleep(WATCH_S)
            try:
                stage = await self.stage()
            except PresentRefused:
                stage = None  # the briefing ended
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("screen share: stage not read (%s); still sharing", exc)
                continue
            if stage is None or not stage.screen:
                log.info("screen share ended at the hub: capture stopped")
                self._stop_capture()
