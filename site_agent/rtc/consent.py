"""Consent freshness that survives a busy peer (RFC 7675): the one change Salaklang makes to aioice.

aioice 0.13's ``Connection.query_consent`` (aioice/ice.py) sends a Binding request every
4–6 s with ``retransmissions=0`` — one try, answered within 0.5 s or missed — and closes the
connection after 6 consecutive misses. A peer whose event loop answers late (the hub's media
worker composing 20 districts, an old notebook decoding the program) misses every check while
it is plainly there, and 30 s later the connection closes ("Consent to send expired").

RFC 7675 §5.1 lets each check retransmit with the STUN RTO and expires consent 30 s after the
last authenticated response. :func:`install` replaces the method on the class with exactly
that: each check retransmits (0.5 + 1 + 2 s, inside the interval), any authenticated answer
refreshes consent — **including one that arrives after its check gave up** — and consent
expires ``expiry_s`` after the last one.

Late answers: aioice's ``StunProtocol.request`` forgets a transaction when it times out, and
``datagram_received`` drops a response it cannot match. Measured in the 20-district bench
(issue 17): the hub's socket receive queues were full, every datagram from a district waited
4–8 s in them, so every consent answer came after its 3.5 s of retransmissions and was
dropped, and 11–16 of 20 districts were closed 45–90 s into the run while their media was
flowing. So a check that times out leaves a :class:`_LateAnswer` in the protocol's
transaction table for ``expiry_s``; an authenticated success response to it still counts.

A real cut still closes the connection about ``expiry_s`` after the last answer; the media
self-healing (issue 11) rejoins long before that. It refuses (RuntimeError) an aioice whose
Connection no longer looks like 0.13's.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from aioice import ice, stun

log = logging.getLogger(__name__)

CONSENT_EXPIRY_S = 30.0  # RFC 7675 §5.1
RETRANSMISSIONS = 2  # RTO 0.5 s doubling: 0.5 + 1 + 2 s, less than the 4–6 s interval
_MARK = "__salaklang_consent__"


class _LateAnswer(stun.Transaction):
    """A consent check that has timed out, still listening for its answer.

    Sits in ``StunProtocol.transactions`` under the request's id, where aioice's
    ``datagram_received`` hands it any response with that id; it is never run (nothing is
    sent). Only an authenticated success response counts (an error answer, or one that fails
    MESSAGE-INTEGRITY, does not refresh consent).
    """

    def __init__(self, request: stun.Message, addr: tuple[str, int], protocol: ice.StunProtocol,
                 key: bytes, on_answer: Callable[[], None]) -> None:
        super().__init__(request, addr, protocol, retransmissions=0, integrity_key=key)
        self._key = key
        self._on_answer = on_answer

    def response_received(self, message: stun.Message, addr: tuple[str, int]) -> None:
        if message.message_class == stun.Class.RESPONSE and message.check_message_integrity(self._key):
            self._on_answer()


def _policy(
    interval_s: float, expiry_s: float, retransmissions: int
) -> Callable[[ice.Connection], Coroutine[Any, Any, None]]:
    async def query_consent(self: ice.Connection) -> None:
        assert self.remote_password is not None  # started by connect(), which has it
        key = self.remote_password.encode("utf8")
        loop = asyncio.get_running_loop()
        last_ok = loop.time()
        # checks that timed out, still listening for a late answer: (since, protocol, transaction id)
        listening: collections.deque[tuple[float, ice.StunProtocol, bytes]] = collections.deque()

        def answered() -> None:
            nonlocal last_ok
            last_ok = loop.time()

        try:
            while True:
                await asyncio.sleep(interval_s * (0.8 + 0.4 * random.random()))
                for pair in list(self._nominated.values()):
                    request = self.build_request(pair, nominate=False)
                    try:
                        await pair.protocol.request(request, pair.remote_addr, integrity_key=key,
                                                    retransmissions=retransmissions)
                        answered()
                    except stun.TransactionTimeout:
                        log.debug("consent check unanswered, %.1f s since the last answer", loop.time() - last_ok)
                        pair.protocol.transactions[request.transaction_id] = _LateAnswer(
                            request, pair.remote_addr, pair.protocol, key, answered)
                        listening.append((loop.time(), pair.protocol, request.transaction_id))
                    except stun.TransactionError as exc:
                        # an error answer (e.g. 401 after an ICE restart) is not consent
                        log.debug("consent check answered with an error: %s", exc)
                while listening and loop.time() - listening[0][0] > expiry_s:
                    _, protocol, tid = listening.popleft()
                    protocol.transactions.pop(tid, None)
                if loop.time() - last_ok >= expiry_s:
                    log.info("consent to send expired: no answer for %.0f s", loop.time() - last_ok)
                    self._query_consent_task = None
                    await self.close()
                    return
        finally:
            for _, protocol, tid in listening:
                protocol.transactions.pop(tid, None)

    setattr(query_consent, _MARK, True)
    return query_consent


def install(
    interval_s: float = float(ice.CONSENT_INTERVAL),
    expiry_s: float = CONSENT_EXPIRY_S,
    retransmissions: int = RETRANSMISSIONS,
) -> None:
    """Put the tolerant consent check into every aioice Connection of this process.

    Idempotent with the defaults; the tests pass short intervals to see expiry quickly.
    """
    current = getattr(ice.Connection, "query_consent", None)
    # late answers go through StunProtocol.transactions, an attribute set in its __init__
    has_table = "transactions" in ice.StunProtocol.__init__.__code__.co_names
    if current is None or not hasattr(ice.Connection, "build_request") or not has_table:
        raise RuntimeError("aioice.Connection has changed shape: re-check site_agent.rtc.consent against it")
    if getattr(current, _MARK, False) and (interval_s, expiry_s, retransmissions) == (
        float(ice.CONSENT_INTERVAL), CONSENT_EXPIRY_S, RETRANSMISSIONS
    ):
        return
    ice.Connection.query_consent = _policy(interval_s, expiry_s, retransmissions)  # type: ignore[method-assign,assignment]


__all__ = ["CONSENT_EXPIRY_S", "RETRANSMISSIONS", "install"]
