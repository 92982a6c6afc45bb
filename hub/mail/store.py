"""The mail outbox table: every outgoing message is a row first (see hub.mail.service).

Rooms that send mail (briefings' invitations, alarms, later reports) call
:func:`enqueue` inside the transaction of the change that caused the message,
then wake the outbox (``app[OUTBOX].wake()``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from hub.models import utcnow

MailState = Literal["queued", "sent", "failed"]


class MailOutbox(SQLModel, table=True):
    __tablename__ = "mail_outbox"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=16)  # invitation | update | cancel | alarm
    series_id: int | None = Field(default=None, index=True)
    site_code: str = Field(default="", max_length=32)
    to_addr: str = Field(max_length=254)
    to_name: str = Field(default="", max_length=200)
    # Who the message is from (an invitation: its ORGANIZER); empty: the relay's own address.
    from_addr: str = Field(default="", max_length=254)
    from_name: str = Field(default="", max_length=200)
    subject: str = Field(max_length=500)
    text_body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    html_body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    ics: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # empty: no calendar part
    ics_method: str = Field(max_length=16)  # REQUEST | CANCEL, equal to METHOD in ``ics``; empty without one
    state: str = Field(default="queued", max_length=16, index=True)
    attempts: int = 0
    last_error: str = Field(default="", max_length=1000)
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: datetime | None = None
    message_id: str = Field(default="", max_length=255)


def enqueue(
    session: Session,
    *,
    kind: str,
    to_addr: str,
    to_name: str,
    subject: str,
    text: str,
    html: str = "",
    ics: str = "",
    ics_method: str = "",
    series_id: int | None = None,
    site_code: str = "",
    from_addr: str = "",
    from_name: str = "",
) -> MailOutbox:
    row = MailOutbox(
        kind=kind,
        series_id=series_id,
        site_code=site_code,
        to_addr=to_addr,
        to_name=to_name,
        from_addr=from_addr,
        from_name=from_name,
        subject=subject,
        text_body=text,
        html_body=html,
        ics=ics,
        ics_method=ics_method,
    )
    session.add(row)
    return row
