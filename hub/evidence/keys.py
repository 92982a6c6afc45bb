"""The evidence room's application keys."""

from __future__ import annotations

from aiohttp import web

from hub.evidence.service import EvidenceService
from hub.evidence.traffic import TrafficLog

EVIDENCE = web.AppKey("evidence", EvidenceService)
# The join path (phase 2) records each participant's connection here.
TRAFFIC = web.AppKey("traffic", TrafficLog)
