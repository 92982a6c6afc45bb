"""What a stream's line delivered, from its RTP sequence numbers alone (pure: no clock, no I/O).

Used where packets are counted but not decoded (hub.media.audio_gate): the same two figures
the decode path keeps (chunks that came, chunks that never did), so a district's health reads
the same whichever path its sound took.
"""

from __future__ import annotations

# A packet is counted missing when the stream has moved this far past it (20 ms packets:
# 0.5 s, beyond the audio jitter buffer's wait and a NACK's round trip, as a decoded one is).
LEDGER_WINDOW = 25
_MAX_HOLE = 1_000  # a larger jump in sequence numbers is a restart of the sender, not loss


class ArrivalLedger:
    """Packets of one RTP stream that arrived, and those that never did (pure: no clock, no I/O)."""

    def __init__(self, window: int = LEDGER_WINDOW) -> None:
        self.window = window
        self.arrived = 0
        self.missing = 0
        self._highest: int | None = None  # extended sequence number
        self._holes: set[int] = set()

    def reset(self) -> None:
        """Start afresh (the stream went back to the decode path, which counts it there)."""
        self._highest = None
        self._holes.clear()

    def add(self, sequence_number: int) -> None:
        if self._highest is None:
            self._highest = sequence_number
            self.arrived += 1
            return
        # the 16-bit number nearest the highest one, extended
        delta = (sequence_number - self._highest + 0x8000) % 0x10000 - 0x8000
        seq = self._highest + delta
        if delta > _MAX_HOLE + 1 or delta < -_MAX_HOLE:
            self._holes.clear()  # the sender restarted its numbering
            self._highest = seq
            self.arrived += 1
            return
        if delta > 0:
            self._holes.update(range(self._highest + 1, seq))
            self._highest = seq
            self.arrived += 1
        elif seq in self._holes:  # a retransmission (NACK) or a late one filled its hole
            self._holes.discard(seq)
            self.arrived += 1
        else:
            return  # a duplicate, or later than the window: already counted
        if self._holes:
            expired = [h for h in self._holes if h <= self._highest - self.window]
            for h in expired:
                self._holes.discard(h)
            self.missing += len(expired)


__all__ = ["ArrivalLedger"]
