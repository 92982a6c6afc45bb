"""The clerk's presenting: upload a file, share the screen, step its own pages.

Over the agent's authenticated HTTP channel (the site token in
``X-Salaklang-Site`` / ``X-Salaklang-Token``, as the log upload does), not the
control socket: a file of many megabytes would hold the socket and its
heartbeats for as long as it takes to send. The hub's answers and refusals
are the typed models of :mod:`site_agent.protocol.content`; a refusal carries
its Thai and English text for the window.

Screen sharing takes one picture of the screen with FFmpeg (x11grab on Linux,
gdigrab on Windows, avfoundation on macOS) and presents it as a PNG: the
hub shows it like a photo, and the clerk shares again to refresh it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from site_agent.config import AgentConfig
from site_agent.protocol.content import DistrictRefusal, DistrictStage, DistrictUploadAnswer

SITE_HEADER = "X-Salaklang-Site"
TOKEN_HEADER = "X-Salaklang-Token"
CAPTURE_TIMEOUT_S = 20.0


class PresentRefused(Exception):
    """The hub said no (not allowed now, bad file…): ``th`` and ``en`` are for the clerk."""

    def __init__(self, status: int, refusal: DistrictRefusal) -> None:
        self.status = status
        self.refusal = refusal
        super().__init__(f"{refusal.th} / {refusal.en}")


def grab_argv(out: Path, platform: str = sys.platform, display: str | None = None) -> list[str]:
    """The FFmpeg command that writes one picture of the screen to ``out`` (PNG)."""
    if platform.startswith("linux"):
        source = ["-f", "x11grab", "-i", display or os.environ.get("DISPLAY", ":0")]
    elif platform == "win32":
        source = ["-f", "gdigrab", "-i", "desktop"]
    elif platform == "darwin":
        source = ["-f", "avfoundation", "-i", "1:none"]  # device 1: the first screen
    else:
        raise OSError(f"screen capture is not available on {platform}")
    return ["ffmpeg", "-nostdin", "-v", "error", "-y", *source, "-frames:v", "1", str(out)]


class Presenter:
    def __init__(self, config: AgentConfig, timeout_s: float = 600.0) -> None:
        self.config = config
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

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

    async def share_screen(self, display: str | None = None) -> DistrictUploadAnswer:
        """One picture of this PC's screen, presented like a photo."""
        with tempfile.TemporaryDirectory(prefix="salaklang-screen-") as tmp:
            out = Path(tmp) / "หน้าจอ.png"
            proc = await asyncio.create_subprocess_exec(
                *grab_argv(out, display=display), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            try:
                _, err = await asyncio.wait_for(proc.communicate(), CAPTURE_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise OSError("screen capture took too long") from None
            if proc.returncode != 0 or not out.is_file():
                raise OSError(f"screen capture failed: {err.decode('utf-8', 'replace')[-300:]}")
            return await self.upload(out)
