"""What the pages share: which backend features exist right now, and page helpers.

Other features land in parallel, so a page never assumes an API is there: it
asks the router. A page whose backend is missing says so plainly and lights
up by itself once the route is registered (no change here needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

# feature name -> a route that proves it exists (method, canonical path)
PROBES: dict[str, tuple[str, str]] = {
    "alarms": ("GET", "/api/v1/alarms"),
    "linkhealth": ("GET", "/api/v1/sites/{code}/link/history"),
    "link_events": ("GET", "/api/v1/sites/{code}/events"),
    "schedule": ("GET", "/api/v1/series"),
    "songkran": ("POST", "/api/v1/series/preset/songkran"),
    "occurrences": ("GET", "/api/v1/occurrences"),
    "invitations": ("GET", "/api/v1/invitations"),
    "readiness": ("GET", "/api/v1/occurrences/{id}/readiness"),
    "conferences": ("GET", "/api/v1/conferences"),
    "conference_viewer": ("POST", "/api/v1/conferences/{id}/viewer"),
    "reports": ("GET", "/api/v1/reports"),
    "agent_versions": ("GET", "/api/v1/agent-versions"),
    "agent_waves": ("GET", "/api/v1/agent-waves"),
    "demo": ("POST", "/api/v1/demo/agents/{code}/{action}"),
}


def route_table(app: web.Application) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path:
            # aiohttp keeps regex-constrained parts in the formatter as plain {name}
            out.add((route.method, str(path)))
    return out


@dataclass(frozen=True)
class Features:
    flags: dict[str, bool]

    def __getattr__(self, name: str) -> bool:
        try:
            return self.flags[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def as_json(self) -> dict[str, bool]:
        return dict(self.flags)


FEATURES_KEY = web.AppKey("ui_features", dict)


def features(app: web.Application) -> Features:
    """Probe once the app is frozen (all features registered); before that, every time."""
    cached: dict[str, Any] | None = app.get(FEATURES_KEY) if app.frozen else None
    if cached and "flags" in cached:
        return Features(cached["flags"])
    table = route_table(app)
    flags = {name: probe in table for name, probe in PROBES.items()}
    if app.frozen and FEATURES_KEY in app:
        app[FEATURES_KEY]["flags"] = flags
    return Features(flags)


def not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f'{{"error": "{what}"}}', content_type="application/json")
