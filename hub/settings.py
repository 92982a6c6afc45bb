"""Hub settings: declared once here, each with a type, a default and help text.

Sources, strongest first: keyword arguments (tests, the demo), environment
variables prefixed ``SALAKLANG_`` (e.g. ``SALAKLANG_PORT=9000``), a TOML
file named by ``SALAKLANG_CONFIG`` (keys are the field names), then the
defaults below. ``docs/SETTINGS.md`` documents every field; a test keeps the
two in step.
"""

from __future__ import annotations

import os
from decimal import Decimal
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

    # --- link health and alarms (issue 5: hub/linkhealth/, hub/alarms/) -----------------
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
    alarms_delivery_timeout_s: float = Field(10.0, gt=0, description="Timeout for one webhook delivery of an alarm (alarm e-mail goes through the mail outbox: smtp_timeout_s, mail_retry_*).")

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
    conference_media_connect_timeout_s: float = Field(
        4.0, gt=0,
        description="After the hub answers a district's offer, time its pictures have to arrive before the hub "
        "makes a fresh offer/answer (ICE checks begun during a cut back off for ~30 s; a new offer is faster).",
    )

    # --- monthly cost and usage reports (issue 13) ------------------------------------------------
    reports_finance_to: str = Field(
        "", description="Comma-separated addresses that receive the monthly report by e-mail (empty: none)."
    )
    reports_language: str = Field("th", pattern="^(th|en)$", description="Language of the e-mailed monthly report.")
    reports_travel_rate_thb_per_km: Decimal = Field(
        Decimal("4"), ge=0, description="Official travel rate per km (private car) used for the saving."
    )
    reports_people_per_district: int = Field(
        2, ge=1, le=50, description="People a district would send to the hall for one briefing."
    )
    reports_travel_speed_kmh: Decimal = Field(
        Decimal("60"), gt=0, description="Average road speed for the hours of travel saved."
    )
    reports_left_early_s: float = Field(
        300.0, ge=0, description="A district whose last interval ends this many seconds before the end left early."
    )
    reports_monthly_job: bool = Field(
        True, description="Produce and e-mail the report at 07:00 on the 1st for the month before."
    )
    reports_cache_mb: int = Field(
        200, ge=1, description="Size cap of the rendered-report cache (<data_dir>/cache/reports: PDF, HTML, XLSX "
        "by content); beyond it the least recently used files are deleted."
    )
    # --- content: slides, photos and clips (issue 14: hub/content/) ---------------------
    content_dir: Path | None = Field(
        None, description="Directory for uploaded content and its rendered pages. Empty: <data_dir>/content."
    )
    content_max_upload_bytes: int = Field(
        200 * 1024 * 1024, gt=0, description="Largest file an operator or district may upload for showing (413 above)."
    )
    content_convert_timeout_s: float = Field(
        120.0, gt=0, description="Time limit for converting one upload (LibreOffice, page rendering, clip probe and playout; a clip gets its own length on top); the converter is killed past it."
    )
    content_parallel_conversions: int = Field(2, ge=1, le=8, description="Conversions that may run at the same time.")
    content_max_pages: int = Field(500, ge=1, description="Documents with more pages than this are refused.")
    content_page_width: int = Field(
        960, ge=160, le=3840, multiple_of=2,
        description="Width pages are rendered at: the content tile of the presentation layout, so text is drawn at its real size.",
    )
    content_page_height: int = Field(540, ge=90, le=2160, multiple_of=2, description="Height pages are rendered at (see content_page_width).")
    content_soffice: str = Field(
        "soffice", description="LibreOffice command used headless to turn PPTX, PPT, ODP and DOCX into PDF."
    )
    # --- recording: MP4 and MP3 of every briefing (issue 14: hub/recording/) -------------
    recording_dir: Path | None = Field(
        None, description="Directory for recordings (MP4 and MP3). Empty: <data_dir>/recordings."
    )
    recording_auto: bool = Field(
        True, description="Record every scheduled briefing whose series has recording on (never a confidential one)."
    )
    recording_retention_days: int = Field(
        365, ge=1, description="Days a finished recording is kept; clean-up then deletes it unless it is under legal hold."
    )
    recording_min_free_mb: int = Field(
        2048, ge=0, description="Free space (MiB) the recording disk must keep: below it a recording stops cleanly with an alarm."
    )
    recording_check_s: float = Field(
        1.0, gt=0, le=60, description="How often running recordings are checked (worker alive, disk space, confidential)."
    )
    recording_cleanup_interval_s: float = Field(
        3600.0, gt=0, description="How often clean-up looks for recordings past the retention period."
    )
    # --- guests and browser districts (issue 15: hub/guests/) ----------------------------
    guests_join_lead_min: int = Field(
        30, ge=0, le=240, description="A guest or district link opens this many minutes before the start (it closes at the end)."
    )
    guests_attempts_per_address: int = Field(
        5, ge=1, description="Wrong passcodes one address may enter per window before it is refused (429)."
    )
    guests_attempts_per_briefing: int = Field(
        50, ge=1, description="Wrong passcodes all addresses together may enter per window for one briefing (429)."
    )
    guests_attempt_window_s: int = Field(600, ge=1, description="Length of the sliding window the passcode limits count in.")
    guests_admit_directly: bool = Field(
        False, description="Default for a series without its own choice: guests go straight in (true) or wait in the lobby."
    )
    guests_sdp_max_bytes: int = Field(
        32768, ge=1024, le=1048576, description="Largest SDP offer a browser may send (413 above)."
    )
    guests_status_wait_s: float = Field(
        25.0, gt=0, le=120, description="Longest a guest page's status request waits for a change (long poll)."
    )
    # --- identity and evidence (issue 16: hub/identity/, hub/evidence/) ----------------
    identity_join_code_ttl_s: float = Field(
        600.0, gt=0, description="Lifetime of a confidential briefing's one-time join code sent by e-mail."
    )
    identity_join_code_attempts: int = Field(
        5, ge=1, description="Wrong join codes allowed before the district must ask for a new one."
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
