"""Consent freshness that survives a busy peer (RFC 7675): the one change Salaklang makes to aioice.

aioice 0.13's ``Connection.query_consent`` (aioice/ice.py) sends a Binding request every
4–6 s with ``retransmissions=0`` — one try, answered within 0.5 s or missed — and closes the
connection after 6 consecutive misses. A peer whose event loop answers late (the hub's media
worker composing 20 districts, an old notebook decoding the program) misses every check while
it is plainly there, and 30 s later the connection closes ("Consent to send expired"): the
bench saw every district of a 20-site briefing drop at once after 45–90 s of a loaded hub.

RFC 7675 §5.1 lets each check retransmit with the STUN RTO and expires consent 30 s after the
last authenticated response. :func:`install` replaces the method on the class with exactly
that: each check retransmits (0.5 + 1 + 2 s, inside the interval), any authenticated answer
refreshes consent, and consent expires ``expiry_s`` after the last one. A real cut still closes
the connection after about 30 s; the media self-healing (issue 11) rejoins long before that.
It refuses (RuntimeError) an aioice whose Connection no longer looks like 0.13's.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from aioice import ice, stun

log = logging.getLogger(__name__)

CONSENT_EXPIRY_S = 30.0  # RFC 7675 §5.1
RETRANSMISSIONS = 2  # RTO 0.5 s doubling: 0.5 + 1 + 2 s, less than the 4–6 s interval
_MARK = "__salaklang_consent__"


def _policy(
    interval_s: float, expiry_s: float, retransmissions: int
) -> Callable[[ice.Connection], Coroutine[Any, Any, None]]:
    async def query_consent(self: ice.Connection) -> None:
        assert self.remote_password is not None  # started by connect(), which has it
        loop = asyncio.get_running_loop()
        last_ok = loop.time()
        while True:
            await asyncio.sleep(interval_s * (0.8 + 0.4 * random.random()))
            for pair in list(self._nominated.values()):
                request = self.build_request(pair, nominate=False)
                try:
                    await pair.protocol.request(
                        request,
                        pair.remote_addr,
                        integrity_key=self.remote_password.encode("utf8"),
                        retransmissions=retransmissions,
                    )
                    last_ok = loop.time()
                except stun.TransactionError:
                    pass
            if loop.time() - last_ok >= expiry_s:
                log.info("consent to send expired: no answer for %.0f s", loop.time() - last_ok)
                self._query_consent_task = None
                await self.close()
                return

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
    if current is None or not hasattr(ice.Connection, "build_request"):
        raise RuntimeError("aioice.Connection has changed shape: re-check site_agent.rtc.consent against it")
    if getattr(current, _MARK, False) and (interval_s, expiry_s, retransmissions) == (
        float(ice.CONSENT_INTERVAL), CONSENT_EXPIRY_S, RETRANSMISSIONS
    ):
        return
    ice.Connection.query_consent = _policy(interval_s, expiry_s, retransmissions)  # type: ignore[method-assign,assignment]


__all__ = ["CONSENT_EXPIRY_S", "RETRANSMISSIONS", "install"]
