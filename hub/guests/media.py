"""What the guests room asks of the media side (nothing here does I/O).

:class:`hub.guests.bridge.ConferenceGuestMedia` implements it on the conference manager's
media worker; it is attached at setup.

The guests room owns who may be in a briefing from a browser and in which state; the media
side (the conference manager and its worker) owns the peer connections. The room hands
over a peer only once the link, the window, the passcode and the lobby all said yes and the
offer passed :func:`hub.guests.sdp.validate_offer`; it tells the media side again whenever
that peer's rights change, and when it must go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.guests.model import LinkKind
from hub.guests.sdp import ValidatedOffer


@dataclass(frozen=True)
class GuestPeer:
    guest_id: int  # stable for this browser in this occurrence (guests.id)
    occurrence_id: int
    conference_id: int | None  # the briefing's live conference, once it is open
    kind: LinkKind  # a district joined by browser appears as the district, not as a guest
    site_code: str  # the district's code for kind=district, "" for a guest
    display_name: str  # what the tile and the participant list show
    organisation: str
    may_unmute: bool  # the chair allows this peer's microphone into the mix
    hand_raised: bool
    source_addr: str = ""  # the browser's address and User-Agent: the evidence traffic log's row
    client: str = ""


@dataclass(frozen=True)
class MediaAnswer:
    """The hub's SDP answer and what the browser should send (as the hub tells an agent)."""

    sdp: str
    send_profile: dict[str, int] = field(default_factory=dict)  # width, height, fps, kbps


class MediaUnavailable(Exception):
    """The media side cannot take this peer now (no live conference, worker restarting).

    ``th``/``en`` are shown to the guest; the room answers 409 with them.
    """

    def __init__(self, th: str, en: str) -> None:
        super().__init__(en)
        self.th = th
        self.en = en


class GuestMedia(Protocol):
    async def connect(self, peer: GuestPeer, offer: ValidatedOffer) -> MediaAnswer:
        """Answer the offer (SDP text). Receiving: the one program (H.264 CB + Opus);
        sending: the browser's camera and microphone, decoded like an agent's. A second call
        for the same ``guest_id`` replaces the earlier peer connection (a fresh offer heals).
        Raises :class:`MediaUnavailable`."""
        ...

    async def update(self, peer: GuestPeer) -> None:
        """The chair changed what the peer may do (microphone, hand, name)."""
        ...

    async def disconnect(self, guest_id: int, reason: str) -> None:
        """Close the peer: ``left``, ``removed``, ``closed`` (briefing over or closed to guests)."""
        ...

    async def microphone(self, guest_id: int, open_: bool) -> None:
        """The guest opens or closes its microphone in the mix (the room checked it may)."""
        ...

    def view(self, guest_id: int) -> dict[str, Any] | None:
        """What the guest's page shows of the conference: floor, microphone, send profile;
        None when the peer is not connected."""
        ...
