"""Outgoing mail: the database outbox (hub.mail.store) drained by one SMTP worker.

Every message is first written to ``mail_outbox`` (state ``queued``) in the
same transaction as the change that caused it, so a restart or an SMTP outage
loses nothing. The worker sends what is due, and on a temporary failure
retries with exponential backoff; a permanent refusal (5xx) or too many
attempts ends in ``failed`` with the reason kept for the control room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from sqlmodel import Session, select

from hub.mail.store import MailOutbox
from hub.models import utcnow
from hub.settings import Settings

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout_s: float = 30.0
    from_addr: str = "salaklang@localhost"
    from_name: str = "ศาลากลางจังหวัดอุดรธานี"


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 30.0
    max_s: float = 3600.0
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        """Delay after the ``attempts``-th failure: base·2^(n−1), capped."""
        return timedelta(seconds=min(self.max_s, self.base_s * 2 ** max(0, attempts - 1)))


# (filename, MIME type "maintype/subtype", content) of one file attached at send time.
Attachment = tuple[str, str, bytes]
AttachmentSource = Callable[[int], list[Attachment]]


def build_message(row: MailOutbox, cfg: SmtpConfig, attachments: Sequence[Attachment] = ()) -> EmailMessage:
    """An invitation: multipart/mixed[ alternative[text, html, text/calendar;method=M], invite.ics ].
    Without a calendar (an alarm, a report): alternative[text, html] (or plain text without
    html), plus the row's ``attachments`` looked up when it is sent.

    The inline text/calendar part is what Outlook turns into Accept/Decline
    buttons; its ``method`` parameter must equal METHOD inside it.

    From is the row's sender when it has one (an invitation's ORGANIZER: RFC 6047 has the
    organizer send a REQUEST/CANCEL); the relay that actually sends it is then named in
    Sender (RFC 5322 §3.6.2), and is the envelope sender (see :meth:`Outbox.send_one`).
    """
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = row.subject
    relay = formataddr((cfg.from_name, cfg.from_addr))
    if row.from_addr:
        msg["From"] = formataddr((row.from_name, row.from_addr)) if row.from_name else row.from_addr
        if row.from_addr.casefold() != cfg.from_addr.casefold():
            msg["Sender"] = relay
    else:
        msg["From"] = relay
    msg["To"] = formataddr((row.to_name, row.to_addr)) if row.to_name else row.to_addr
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = row.message_id or make_msgid(domain=cfg.from_addr.rsplit("@", 1)[-1])
    msg["Content-Language"] = "th, en"
    msg.set_content(row.text_body, subtype="plain", charset="utf-8")
    if row.html_body:
        msg.add_alternative(row.html_body, subtype="html", charset="utf-8")
    if row.ics:
        msg.add_alternative(row.ics, subtype="calendar", charset="utf-8", params={"method": row.ics_method})
    if not row.ics and not attachments:
        return msg
    for part in msg.iter_parts():
        part.set_param("charset", "UTF-8")
    msg.make_mixed()
    if row.ics:
        msg.add_attachment(row.ics.encode("utf-8"), maintype="application", subtype="ics", filename="invite.ics")
    for filename, mime, content in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 500 <= exc.code < 600
    return False


class Outbox:
    """Drains ``mail_outbox``; safe to run after a crash (state is all in the table)."""

    def __init__(
        self, engine: sa.Engine, cfg: SmtpConfig, policy: RetryPolicy, poll_s: float = 5.0
    ) -> None:
        self.engine = engine
        self.cfg = cfg
        self.policy = policy
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self.sent_count = 0
        # kind -> files to attach to a row of that kind, looked up when it is sent (reports)
        self.attachment_sources: dict[str, AttachmentSource] = {}

    def add_attachment_source(self, kind: str, source: AttachmentSource) -> None:
        self.attachment_sources[kind] = source

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def _due(self) -> list[MailOutbox]:
        with Session(self.engine, expire_on_commit=False) as s:
            rows = s.exec(
                select(MailOutbox)
                .where(MailOutbox.state == "queued", MailOutbox.next_attempt_at <= utcnow())
                .order_by(MailOutbox.id)  # type: ignore[arg-type]
                .limit(50)
            ).all()
            return list(rows)

    def _record(self, row_id: int, **changes: Any) -> None:
        with Session(self.engine) as s:
            row = s.get(MailOutbox, row_id)
            if row is None:
                return
            for k, v in changes.items():
                setattr(row, k, v)
            s.add(row)
            s.commit()

    async def send_one(self, row: MailOutbox) -> bool:
        assert row.id is not None
        if not row.message_id:
            row.message_id = make_msgid(domain=self.cfg.from_addr.rsplit("@", 1)[-1])
        source = self.attachment_sources.get(row.kind)
        files = await asyncio.to_thread(source, row.id) if source is not None else []
        msg = build_message(row, self.cfg, files)
        attempts = row.attempts + 1
        try:
            await aiosmtplib.send(
                msg,
                # The relay's own address on the envelope (bounces come back to the hub),
                # whoever the message is From.
                sender=self.cfg.from_addr,
                hostname=self.cfg.host,
                port=self.cfg.port,
                username=self.cfg.user or None,
                password=self.cfg.password or None,
                start_tls=self.cfg.starttls,
                timeout=self.cfg.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            if _permanent(exc) or attempts >= self.policy.max_attempts:
                log.warning("mail %s to %s failed for good: %s", row.id, row.to_addr, reason)
                await asyncio.to_thread(
                    self._record, row.id, state="failed", attempts=attempts, last_error=reason,
                    message_id=row.message_id,
                )
            else:
                retry_at = utcnow() + self.policy.delay(attempts)
                log.info("mail %s to %s: %s; retry at %s", row.id, row.to_addr, reason, retry_at)
                await asyncio.to_thread(
                    self._record, row.id, attempts=attempts, last_error=reason,
                    next_attempt_at=retry_at, message_id=row.message_id,
                )
            return False
        await asyncio.to_thread(
            self._record, row.id, state="sent", attempts=attempts, sent_at=utcnow(),
            last_error="", message_id=row.message_id,
        )
        self.sent_count += 1
        return True

    async def drain_once(self) -> int:
        """Send everything due now; returns how many went out."""
        sent = 0
        for row in await asyncio.to_thread(self._due):
            if await self.send_one(row):
                sent += 1
        return sent

    async def run(self) -> None:
        while True:
            try:
                await self.drain_once()
            except Exception:  # the worker must outlive a database hiccup
                log.exception("mail outbox pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()


def smtp_config_from(settings: Settings) -> SmtpConfig:
    password = os.environ.get(settings.smtp_password_env, "") if settings.smtp_password_env else ""
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=password,
        starttls=settings.smtp_starttls,
        timeout_s=settings.smtp_timeout_s,
        from_addr=settings.mail_from,
    )


def retry_policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_s=settings.mail_retry_base_s,
        max_s=settings.mail_retry_max_s,
        max_attempts=settings.mail_max_attempts,
    )


@contextlib.asynccontextmanager
async def running_outbox(outbox: Outbox) -> AsyncIterator[Outbox]:
    task = asyncio.create_task(outbox.run(), name="mail-outbox")
    try:
        yield outbox
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
