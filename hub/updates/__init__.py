"""Agent updates: releases, rollout waves, agent log uploads and self-test reports (issue 7).

- :mod:`hub.updates.model`: which release a district gets, wave progress (pure);
- :mod:`hub.updates.store`: releases, waves and their districts (tables, queries, wheel files);
- :mod:`hub.updates.service`: nudging agents when a wave opens, the latest self-tests;
- :mod:`hub.updates.http`: the admin API and the agent-facing ``/agent/`` routes.
"""

from __future__ import annotations

from aiohttp import web

from hub.updates import http, service


def setup(app: web.Application) -> None:
    service.setup(app)
    http.setup(app)
