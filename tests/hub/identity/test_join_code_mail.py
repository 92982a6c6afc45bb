"""The one-time join code reaches the district's mailbox at once: identity wakes the outbox.

The outbox here polls only once a minute, so a code that arrives within seconds was sent
because the identity room woke it (a real SMTP server, aiosmtpd, on a loopback port).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from hub.settings import Settings
from tests.conftest import HubHandle, free_port
from tests.hub.identity.briefing import Api, site_token, start_briefing


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture
def mailbox_port() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def settings(tmp_path: Path, mailbox_port: tuple[Mailbox, int]) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_enabled=False,
                    smtp_host="127.0.0.1", smtp_port=mailbox_port[1], mail_poll_s=60.0)


async def test_the_join_code_mail_goes_out_without_waiting_for_the_poll(
        hub: HubHandle, http: aiohttp.ClientSession, mailbox_port: tuple[Mailbox, int]) -> None:
    box, _ = mailbox_port
    api = Api(http, hub)
    cid = await start_briefing(api, ["UDN01"])
    await api.call("PUT", f"/api/v1/conferences/{cid}/confidential", body={"confidential": True}, expect=200)
    token = await site_token(hub, "UDN01")
    await asyncio.sleep(0.5)  # the outbox's first pass at start-up is over: from now on it sleeps 60 s
    asked = time.monotonic()
    await api.call("POST", f"/api/v1/conferences/{cid}/join-codes", token, {}, expect=201)
    while not box.messages:
        assert time.monotonic() - asked < 10, "the join-code mail waited for the outbox's poll"
        await asyncio.sleep(0.05)
    (mail,) = box.messages
    assert mail["To"].addresses[0].addr_spec == "udn01@salaklang.example"
    found = re.search(r"\b(\d{6})\b", mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert found
    await api.call("POST", f"/api/v1/conferences/{cid}/join-codes/verify", token, {"code": found.group(1)},
                   expect=200)
