"""Alarm e-mail goes through the mail outbox: an SMTP server that refuses the first attempt
(451, temporary) still gets the alarm, on the outbox's retry."""

from __future__ import annotations

import asyncio
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from hub.alarms import service as alarms
from hub.alarms.keys import ALARMS
from hub.mail.store import MailOutbox
from hub.settings import Settings
from tests.conftest import free_port, start_hub

pytestmark = pytest.mark.slow


class FlakySmtp:
    """aiosmtpd handler: the first DATA is refused with a temporary error, later ones accepted."""

    def __init__(self) -> None:
        self.attempts = 0
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts == 1:
            return "451 4.3.0 try again later"
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


def outbox_rows(engine: sa.Engine) -> list[MailOutbox]:
    with Session(engine) as s:
        return list(s.exec(select(MailOutbox).where(MailOutbox.kind == "alarm")).all())


async def test_alarm_mail_arrives_after_a_temporary_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alarms, "STARTUP_RECONNECT_S", 0.5)
    smtp = FlakySmtp()
    port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(
        data_dir=tmp_path / "var", port=0, host="127.0.0.1", offline_after_s=0.5,
        alarms_email_to="noc@udonthani.example", smtp_host="127.0.0.1", smtp_port=port,
        mail_poll_s=0.2, mail_retry_base_s=0.3, mail_retry_max_s=0.5,
    )
    hub = await start_hub(settings, tmp_path)
    try:
        await hub.enrol_agent("UDN07")  # enrolled, never connects: the hub raises "offline" itself
        deadline = time.monotonic() + 20
        while not smtp.messages:
            assert time.monotonic() < deadline, f"no alarm mail (SMTP attempts: {smtp.attempts})"
            await asyncio.sleep(0.1)
        (alarm,) = hub.app[ALARMS].list()
        assert (alarm["site"], alarm["kind"]) == ("UDN07", "offline")
        assert alarm["delivery"] == {"email": "queued"}
        (mail,) = smtp.messages
        assert smtp.attempts == 2  # refused once, sent on the retry
        assert mail["To"] == "noc@udonthani.example"
        assert str(mail["Subject"]) == f"[เตือน/WARNING] {alarm['message_th']} / {alarm['message_en']}"
        assert "UDN07" in mail.get_content()
        # The outbox marks the row after the server's 250: wait for that write, not just the mail.
        deadline = time.monotonic() + 5
        while (row := (await asyncio.to_thread(outbox_rows, hub.engine))[0]).state != "sent":
            assert time.monotonic() < deadline, (row.state, row.attempts)
            await asyncio.sleep(0.05)
        assert (row.state, row.attempts, row.site_code) == ("sent", 2, "UDN07")
    finally:
        await hub.runner.cleanup()
        controller.stop()
