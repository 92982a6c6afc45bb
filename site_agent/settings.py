"""District agent settings: declared once here, each with a type, a default and help text.

Sources, strongest first: keyword arguments (tests), environment variables
prefixed ``SALAKLANG_`` (e.g. ``SALAKLANG_AGENT_HOME=/srv/kiosk``), then the
defaults below; an empty variable counts as unset. The agent reads no TOML
file (that one is the hub's). What enrolment gave this PC (hub
URL, site, token, remembered devices) is not a setting: it lives in the
config directory (:mod:`site_agent.config`). ``docs/SETTINGS.md`` (section
"Agent settings") documents every field; a test keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SALAKLANG_"


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, env_ignore_empty=True
    )

    # --- where the agent keeps things -------------------------------------------------
    agent_home: Path | None = Field(
        None,
        description="Directory of this PC's enrolment (agent.json, site.token) for kiosks, tests and the "
        "demo; `--config-dir` wins over it. Unset: the user's config directory (salaklang-agent).",
    )
    agent_log_dir: Path | None = Field(
        None, description="Directory of the rotating agent.log files. Unset: the user's log directory."
    )
    # --- first run ------------------------------------------------------------------------
    hub_url: str = Field(
        "", description="Hub address pre-filled in the first-run enrolment window (the clerk types only the code)."
    )
    # --- devices --------------------------------------------------------------------------
    synthetic_devices: bool = Field(
        False,
        description="Use the synthetic camera, microphone and speaker in the tray and the self-test, as "
        "`--demo` does (demo PCs, tests).",
    )
    # --- updates (set by the update supervisor for the agent it runs) -------------------
    updates_dir: Path | None = Field(
        None,
        description="Updates directory (state.json, versions/). Set by the update supervisor for its child; "
        "unset: <config dir>/updates.",
    )
    supervised: bool = Field(
        False, description="Set by the update supervisor: this agent runs under it (exit code 75 restarts it)."
    )
    # --- transport ------------------------------------------------------------------------
    allow_insecure_http: bool = Field(
        False,
        description="Development only: allow a plain http:// / ws:// hub that is not on this machine "
        "(`--allow-insecure-http`). Off: https/wss only, except to loopback.",
    )
    # --- the control channel -------------------------------------------------------------
    control_dead_after_s: float = Field(
        15.0, gt=0,
        description="No answer to the agent's heartbeats for this long: the agent drops the control socket and "
        "reconnects (a cut link would otherwise hang on TCP retransmissions for minutes).",
    )
    control_connect_timeout_s: float = Field(
        4.0, gt=0, description="Time one connection attempt to the hub may take (TCP, TLS and the WebSocket handshake).",
    )
    reconnect_max_s: float = Field(
        3.0, gt=0,
        description="Longest wait between reconnection attempts (exponential from 0.5 s with jitter): the "
        "district is back in the briefing within seconds of its link returning.",
    )
    # --- tests ----------------------------------------------------------------------------
    ui_map: Path | None = Field(
        None,
        description="Tests only: the clerk window writes its buttons' screen rectangles (JSON) to this file "
        "so xdotool can click them.",
    )

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable of a field (to hand a setting to a child process)."""
        if field not in cls.model_fields:
            raise KeyError(field)
        return ENV_PREFIX + field.upper()


def load_agent_settings(**overrides: Any) -> AgentSettings:
    """The settings as the environment gives them now (read per call: tests and the supervisor change it)."""
    return AgentSettings(**overrides)
