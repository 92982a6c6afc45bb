"""A live briefing on a real hub (media off: these rooms need the conference's state, not its
pictures), started and driven through the product's own API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from hub.settings import Settings
from tests.conftest import HubHandle

DISTRICTS = ["UDN01", "UDN02", "UDN03", "UDN04", "UDN05"]


def quiet_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_enabled=False)


class Api:
    """JSON calls with a bearer token; every answer's status is checked by the caller."""

    def __init__(self, http: aiohttp.ClientSession, hub: HubHandle) -> None:
        self.http = http
        self.hub = hub

    async def call(self, method: str, path: str, token: str | None = None, body: Any = None,
                   expect: int | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.hub.admin_token}"}
        async with self.http.request(method, self.hub.url + path, json=body, headers=headers) as r:
            data = await r.json() if r.content_type == "application/json" else await r.read()
            if expect is not None:
                assert r.status == expect, (method, path, r.status, data)
            return r.status, data


async def start_briefing(api: Api, sites: list[str] | None = None, title: str = "ประชุมศูนย์ปฏิบัติการถนนปลอดภัย") -> int:
    _, data = await api.call("POST", "/api/v1/conferences", body={"sites": sites or DISTRICTS, "layout": "4x5",
                                                                  "title": title}, expect=201)
    return int(data["id"])


async def site_token(hub: HubHandle, site: str) -> str:
    config = await hub.enrol_agent(site)
    return config.token
