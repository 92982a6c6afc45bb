"""Exchange the one-time code the province gives for this PC's site token.

The hub's answer also carries the province's update key, which this PC pins: from then
on only packages signed with it install. The hub must be ``https://`` (see
:func:`site_agent.config.check_hub_url`): the code and the token cross that connection.
"""

from __future__ import annotations

import platform
import socket
from pathlib import Path

import aiohttp

import site_agent
from site_agent.config import AgentConfig, InsecureHub, check_hub_url


class EnrolFailed(Exception):
    def __init__(self, reason: str, message_th: str, message_en: str) -> None:
        super().__init__(f"{message_th}\n{message_en}")
        self.reason = reason
        self.message_th = message_th
        self.message_en = message_en


async def enrol(hub_url: str, code: str, config_dir: Path, *, allow_insecure: bool | None = None) -> AgentConfig:
    try:
        hub_url = check_hub_url(hub_url, allow_insecure)
    except InsecureHub as exc:
        raise EnrolFailed("insecure_url", exc.message_th, exc.message_en) from exc
    except ValueError as exc:
        raise EnrolFailed("bad_url", f"ที่อยู่ {hub_url!r} ไม่ถูกต้อง", str(exc)) from exc
    body = {
        "code": code,
        "hostname": socket.gethostname()[:255],
        "os": f"{platform.system()} {platform.release()}"[:64],
        "agent_version": site_agent.__version__,
    }
    try:
        async with aiohttp.ClientSession() as http, http.post(
            f"{hub_url}/api/v1/enrol", json=body, timeout=aiohttp.ClientTimeout(total=20)
        ) as resp:
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise EnrolFailed(
            "unreachable",
            f"ติดต่อศาลากลางจังหวัดไม่ได้ ({hub_url}) กรุณาตรวจสอบสายแลนหรืออินเทอร์เน็ต แล้วลองใหม่",
            f"Cannot reach the hub at {hub_url}: {exc}",
        ) from exc
    if resp.status != 201:
        raise EnrolFailed(
            str(data.get("error", resp.status)),
            str(data.get("message_th", "ลงทะเบียนไม่สำเร็จ กรุณาติดต่อศาลากลางจังหวัด")),
            str(data.get("message", data.get("error", f"HTTP {resp.status}"))),
        )
    config = AgentConfig(
        hub_url=hub_url, site=data["site"], token=data["token"], config_dir=config_dir,
        name_th=data.get("name_th", ""), name_en=data.get("name_en", ""),
        update_public_key=str(data.get("update_public_key") or ""),
    )
    config.save()
    return config
