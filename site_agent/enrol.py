"""Exchange the one-time code the province gives for this PC's site token."""

from __future__ import annotations

import platform
import socket
from pathlib import Path

import aiohttp

import site_agent
from site_agent.config import AgentConfig


class EnrolFailed(Exception):
    def __init__(self, reason: str, message_th: str, message_en: str) -> None:
        super().__init__(f"{message_th}\n{message_en}")
        self.reason = reason
        self.message_th = message_th
        self.message_en = message_en


async def enrol(hub_url: str, code: str, config_dir: Path) -> AgentConfig:
    hub_url = hub_url.rstrip("/")
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
    )
    config.save()
    return config
