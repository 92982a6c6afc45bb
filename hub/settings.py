"""Hub settings: declared once here, each with a type, a default and help text.

Sources, strongest first: keyword arguments (tests, the demo), environment
variables prefixed ``SALAKLANG_`` (e.g. ``SALAKLANG_PORT=9000``), a TOML
file named by ``SALAKLANG_CONFIG`` (keys are the field names), then the
defaults below. ``docs/SETTINGS.md`` documents every field; a test keeps the
two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from site_agent.netmon.thresholds import (
    DEFAULT_PROBES_PER_STEP,
    DEFAULT_SNMP_INTERVAL_S,
    DEFAULT_STEP_S,
    DEFAULT_TMAX_MS,
    Thresholds,
)

ENV_PREFIX = "SALAKLANG_"
_BANDS = Thresholds()  # link colour bands: declared once, in site_agent.netmon
REPO_ROOT = Path(__file__).resolve().parent.parent


def default_inventory_path() -> Path:
    """The repository's ``inventory/`` in a checkout, the copy in the wheel otherwise."""
    checkout = REPO_ROOT / "inventory"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "inventory_default"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True
    )

    # --- where and how the hub listens --------------------------------------
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the web server (0 = any).")
    public_url: str = Field(
        "",
        description="URL agents and browsers use to reach the hub (enrolment links, invitations). "
        "Empty: derived from host and port.",
    )
    data_dir: Path = Field(Path("var"), description="Directory for the SQLite database, secrets and logs.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL. Empty: SQLite at <data_dir>/salaklang.db in WAL mode. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    timezone: str = Field("Asia/Bangkok", description="Time zone for display and data entry; storage is UTC.")
    inventory_path: Path = Field(
        default_factory=default_inventory_path,
        description="Inventory directory (defaults.yaml, groups.yaml, sites.yaml) synced at start.",
    )
    session_secret_env: str = Field(
        "SALAKLANG_SESSION_SECRET",
        description="Name of the environment variable holding the 32-byte urlsafe-base64 cookie key. "
        "Unset: a key is generated once and kept in <data_dir>/session.key (mode 0600).",
    )
    session_max_age_s: int = Field(
        8 * 3600, gt=0,
        description="Absolute lifetime of a control-room login (seconds): the session ends this long after login, active or not.",
    )
    secure_cookies: bool = Field(False, description="Mark cookies Secure (set when served over HTTPS).")
    default_language: str = Field("th", pattern="^(th|en)$", description="Language shown before the user picks one.")

    # --- agents ---------------------------------------------------------------
    min_agent_version: str = Field("0.1.0", description="Agents older than this are told to update and disconnected.")
    heartbeat_interval_s: float = Field(5.0, gt=0, description="How often agents send a heartbeat.")
    link_report_interval_s: float = Field(10.0, gt=0, description="How often agents send a link report.")
    offline_after_s: float = Field(
        15.0, gt=0, description="A site with no message for this long is shown offline."
    )
    hello_timeout_s: float = Field(10.0, gt=0, description="Time an agent has to say hello after connecting.")
    enrolment_code_ttl_s: int = Field(72 * 3600, gt=0, description="Lifetime of a one-time enrolment code.")
    max_frame_bytes: int = Field(
        64 * 1024, gt=1024, description="Largest agent message accepted; larger ones get an error reply."
    )
    agent_msgs_per_s: float = Field(50.0, gt=0, description="Sustained messages per second allowed from one agent.")
    agent_msgs_burst: int = Field(200, gt=0, description="Burst of messages allowed from one agent above the rate.")
    agent_flood_close_after: int = Field(
        2000, gt=0, description="Messages dropped for rate before the hub closes the flooding agent."
    )
    last_seen_flush_s: float = Field(10.0, gt=0, description="How often last-seen times are written to the database.")
    metrics_public: bool = Field(
        False,
        description="Serve /metrics to anyone. Off: a viewer's API token (Authorization: Bearer, as a Prometheus "
        "scrape config sends it), or a request from loopback when metrics_loopback is on.",
    )

    # --- security (issue 12) ---------------------------------------------------------
    session_idle_timeout_s: int = Field(
        30 * 60, gt=0, description="A control-room login unused for this many seconds ends (idle timeout)."
    )
    metrics_loopback: bool = Field(
        False, description="Serve /metrics without a token to requests from this machine (a local Prometheus)."
    )
    update_public_key: str = Field(
        "",
        description="The province's Ed25519 public key (base64 of the 32 raw bytes) that signs agent updates. "
        "The hub refuses any upload not signed by it, and hands it to each agent at enrolment, which then "
        "installs only packages signed by it. Empty: no update can be published.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra browser origins (scheme://host[:port]) allowed to open the control room's WebSockets "
        "besides the hub's own address and public_url.",
    )

    # --- agent updates and logs (issue 7) ------------------------------------------
    agent_package_max_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="Largest agent wheel the hub accepts for publishing (413 above)."
    )
    agent_log_max_bytes: int = Field(
        5 * 1024 * 1024, gt=0, description="Largest log bundle an agent may upload with 'send logs' (413 above)."
    )

    # --- briefing schedule and invitations (hub/scheduler.py, hub/mailer.py) ---------
    schedule_misfire_grace_s: int = Field(
        600, ge=1, description="A briefing the hub could not open at T0 is still opened this many seconds late; later it is marked missed."
    )
    schedule_readiness_lead_s: float = Field(900.0, gt=0, description="Readiness check (agent self-test) this many seconds before T0.")
    schedule_reminder_lead_s: float = Field(600.0, gt=0, description="Reminder to each agent this many seconds before T0.")
    schedule_late_after_s: float = Field(120.0, ge=0, description="A district not joined this many seconds after T0 is shown late.")
    schedule_selftest_timeout_s: float = Field(30.0, gt=0, description="How long the readiness check waits for an agent's self-test.")
    helpdesk_phone: str = Field(
        "", description="Fault-report number printed in invitations. Empty: the province hub site's contact phone."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP relay for invitations.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP relay port.")
    smtp_user: str = Field("", description="SMTP login name (empty: no login).")
    smtp_password_env: str = Field(
        "SALAKLANG_SMTP_PASSWORD", description="Name of the environment variable holding the SMTP password."
    )
    smtp_starttls: bool = Field(False, description="Use STARTTLS on the SMTP connection.")
    smtp_timeout_s: float = Field(30.0, gt=0, description="SMTP connect/command timeout.")
    mail_from: str = Field("salaklang@localhost", description="Sender address of invitations.")
    mail_retry_base_s: float = Field(30.0, gt=0, description="First retry delay after an SMTP failure; doubles each attempt.")
    mail_retry_max_s: float = Field(3600.0, gt=0, description="Longest delay between SMTP retries.")
    mail_max_attempts: int = Field(12, ge=1, description="Attempts before a mail is marked failed.")
    mail_poll_s: float = Field(5.0, gt=0, description="How often the outbox looks for mail due for a retry.")

    # --- link health and alarms (issue 5: hub/linkhealth.py, hub/alarms.py) -------------
    linkhealth_udp_echo_port: int = Field(
        0, ge=-1, le=65535,
        description="UDP port of the echo the agents probe; agents are told the bound port "
        "(0 = any free port; fix it when a firewall sits in front of the hub; -1 = off).",
    )
    linkhealth_udp_echo_host: str = Field("", description="Address the UDP echo binds to. Empty: same as host.")
    linkhealth_probes_per_step: int = Field(DEFAULT_PROBES_PER_STEP, ge=1, le=1000, description="Probes each agent sends per step (Poisson-spaced).")
    linkhealth_step_s: float = Field(DEFAULT_STEP_S, ge=1, le=3600, description="Length of one probe step; one link report per step.")
    linkhealth_tmax_ms: float = Field(DEFAULT_TMAX_MS, gt=0, description="A probe not echoed within this time counts as lost.")
    linkhealth_snmp_interval_s: float = Field(DEFAULT_SNMP_INTERVAL_S, ge=1, description="How often agents (and the hub, if enabled) poll the district router.")
    linkhealth_rtt_amber_ms: float = Field(_BANDS.rtt_amber_ms, gt=0, description="Median round-trip time at or above this is amber.")
    linkhealth_rtt_red_ms: float = Field(_BANDS.rtt_red_ms, gt=0, description="Median round-trip time at or above this is red.")
    linkhealth_jitter_amber_ms: float = Field(_BANDS.jitter_amber_ms, gt=0, description="Jitter (RFC 3550) at or above this is amber.")
    linkhealth_jitter_red_ms: float = Field(_BANDS.jitter_red_ms, gt=0, description="Jitter (RFC 3550) at or above this is red.")
    linkhealth_loss_amber_pct: float = Field(_BANDS.loss_amber_pct, gt=0, description="Probe loss at or above this percentage is amber.")
    linkhealth_loss_red_pct: float = Field(_BANDS.loss_red_pct, gt=0, description="Probe loss at or above this percentage is red.")
    linkhealth_raw_retention_days: int = Field(35, ge=1, description="Days raw probe and SNMP samples are kept (rollups are kept longer).")
    linkhealth_rollup_retention_days: int = Field(
        400, ge=396, description="Days hourly rollups are kept; at least 13 months for the monthly uptime report."
    )
    linkhealth_maintenance_interval_s: float = Field(
        300.0, gt=0, description="How often completed hours are rolled up and old raw samples purged."
    )
    linkhealth_hub_snmp_poll: bool = Field(
        False, description="Also poll every district router from the hub (second opinion to the agents' figures)."
    )
    alarms_briefing_window_min: float = Field(
        30.0, ge=0, description="An alarm this many minutes or less before a scheduled briefing is raised as critical."
    )
    alarms_webhook_url: str = Field("", description="POST each alarm as JSON to this URL (empty: no webhook).")
    alarms_email_to: str = Field("", description="Comma-separated addresses that receive alarms by email (empty: none).")
    alarms_delivery_timeout_s: float = Field(10.0, gt=0, description="Timeout for one webhook or email delivery of an alarm.")

    # --- conferences and media (issue 3: hub/conferences.py, hub/media/) ---------------
    media_enabled: bool = Field(
        True, description="Run a media worker process per conference (off: conference state and floor only)."
    )
    media_width: int = Field(1280, ge=160, le=1920, multiple_of=2, description="Width of the composed program picture.")
    media_height: int = Field(720, ge=90, le=1080, multiple_of=2, description="Height of the composed program picture.")
    media_fps: int = Field(25, ge=1, le=30, description="Frame rate of the program.")
    media_kbps: int = Field(2500, ge=100, le=20000, description="Target bitrate of the program's H.264 encoder.")
    conference_max_holders: int = Field(
        1, ge=1, le=4, description="How many sites may hold the floor at once (1 for a briefing)."
    )
    conference_join_timeout_s: float = Field(
        20.0, gt=0, description="Time an agent has to answer a join (its SDP offer) before the hub retries."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get(ENV_PREFIX + "CONFIG")
        if toml_path:
            if not Path(toml_path).is_file():
                raise FileNotFoundError(f"{ENV_PREFIX}CONFIG names {toml_path}, which does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    # --- derived ----------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'salaklang.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
