"""From and Sender on the wire (a real SMTP server, aiosmtpd): a row with its own sender goes out
From that sender, the relay named in Sender and on the envelope; a row without one, or whose
sender is the relay itself, From the relay and without Sender."""

from __future__ import annotations

from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import compat32
from email.utils import parseaddr

import sqlalchemy as sa
from sqlmodel import Session

from hub.mail.service import Outbox, RetryPolicy, SmtpConfig
from hub.mail.store import enqueue
from tests.hub.briefings.harness import free_port, smtp_server

RELAY = "relay@salaklang.example"
RELAY_NAME = "ศาลากลางจังหวัดอุดรธานี"


def _header(raw: bytes, name: str) -> tuple[str, str] | None:
    # compat32 + decode_header: RFC 2047 §6.2 decoding (policy.default splits Thai names, gh-128110)
    value = message_from_bytes(raw, policy=compat32)[name]
    return None if value is None else parseaddr(str(make_header(decode_header(value))))


async def test_sender_in_from_relay_in_sender(engine: sa.Engine) -> None:
    rows = [
        ("a@district.example", "control@salaklang.example", "ศูนย์ปฏิบัติการจังหวัด"),
        ("b@district.example", "", ""),
        ("c@district.example", RELAY.upper(), "ชื่อของผู้จัด"),  # the relay itself, in any case
    ]
    with Session(engine) as s:
        for to, from_addr, from_name in rows:
            enqueue(s, kind="alarm", to_addr=to, to_name="", subject="ทดสอบ", text="x",
                    from_addr=from_addr, from_name=from_name)
        s.commit()
    port = free_port()
    with smtp_server(port) as sink:
        cfg = SmtpConfig(host="127.0.0.1", port=port, from_addr=RELAY, from_name=RELAY_NAME)
        assert await Outbox(engine, cfg, RetryPolicy(max_attempts=1)).drain_once() == 3
    got = {parseaddr(message_from_bytes(raw, policy=compat32)["To"])[1]: raw for raw in sink.raw}
    assert _header(got["a@district.example"], "From") == ("ศูนย์ปฏิบัติการจังหวัด", "control@salaklang.example")
    assert _header(got["a@district.example"], "Sender") == (RELAY_NAME, RELAY)
    assert _header(got["b@district.example"], "From") == (RELAY_NAME, RELAY)
    assert _header(got["b@district.example"], "Sender") is None
    assert _header(got["c@district.example"], "From") == ("ชื่อของผู้จัด", RELAY.upper())
    assert _header(got["c@district.example"], "Sender") is None
    # the envelope is always the relay's: bounces come back to the hub
    assert {mail_from for mail_from, _rcpts in sink.envelopes} == {RELAY}
