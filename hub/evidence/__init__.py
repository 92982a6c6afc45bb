"""Meeting evidence (Emergency Decree on Electronic Meetings B.E. 2563): the traffic log and the
signed evidence package of every briefing, with ``python -m hub evidence verify``.

Reads identities and roll calls (hub.identity), polls (hub.polls), the join/leave and
floor intervals the conference manager writes (hub.attendance) and the audit chain.
"""

from __future__ import annotations

from aiohttp import web

from hub.conferences.keys import CONFERENCES
from hub.evidence.clock import ClockWatch
from hub.evidence.http import add_routes
from hub.evidence.keys import EVIDENCE, TRAFFIC
from hub.evidence.service import EvidenceService
from hub.evidence.traffic import TrafficLog
from hub.identity.keys import IDENTITY
from hub.keys import ENGINE, SETTINGS
from hub.polls.keys import POLLS

__all__ = ["EVIDENCE", "TRAFFIC", "setup"]


async def _log_joins(app: web.Application) -> None:
    """The traffic log hears every join and leave on the conference manager's join path."""
    app[CONFERENCES].connection_listeners.append(app[TRAFFIC].on_connection)


def setup(app: web.Application) -> None:
    s = app[SETTINGS]
    watch = ClockWatch()
    app[TRAFFIC] = TrafficLog(app[ENGINE], clock_state=watch.state)
    app[EVIDENCE] = EvidenceService(app[ENGINE], s.data_dir, app[IDENTITY], app[POLLS], tz=s.timezone, clock_state=watch.state)
    app.on_startup.append(_log_joins)
    add_routes(app)
