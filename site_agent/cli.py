"""`python -m site_agent ...`: enroll, run (headless or with the tray), selftest, devices, autostart.

Every mistake on the command line or in the environment ends in a plain
message and exit status 2 (argparse's convention), never a traceback: a
clerk or a district technician reads these, often over the phone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from site_agent.clerk.service import add_clerk_commands, install_clerk
from site_agent.client import AgentClient
from site_agent.config import (
    BrokenConfig,
    InsecureHub,
    NotEnrolled,
    default_config_dir,
    load_config,
)
from site_agent.devices import devices_main
from site_agent.enrol import EnrolFailed, enrol
from site_agent.features import install_features
from site_agent.settings import AgentSettings, load_agent_settings
from site_agent.ui import autostart
from site_agent.ui.tray import ui_available

log = logging.getLogger("site_agent.cli")

USAGE_ERROR = 2


def _config_dir(args: argparse.Namespace) -> Path:
    return Path(args.config_dir) if args.config_dir else default_config_dir()


def hub_url(text: str) -> str:
    """argparse type: an http(s) URL with a host."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} ไม่ใช่ที่อยู่เครื่องแม่ข่าย / is not a hub URL (e.g. https://salaklang.udonthani.go.th)"
        )
    return text.strip().rstrip("/")


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def log_level(text: str) -> str:
    name = text.strip().upper()
    if name not in logging.getLevelNamesMapping():
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
    return name


def cmd_enroll(args: argparse.Namespace) -> int:
    try:
        config = asyncio.run(enrol(args.hub, args.code, _config_dir(args)))
    except EnrolFailed as exc:
        print(exc.message_th, file=sys.stderr)
        print(exc.message_en, file=sys.stderr)
        return 1
    except OSError as exc:  # the config directory cannot be written
        print(f"บันทึกการลงทะเบียนไม่ได้ / cannot save the enrolment: {exc}", file=sys.stderr)
        return 1
    print(f"ลงทะเบียนสำเร็จ: {config.name_th} ({config.site})")
    print(f"Enrolled as {config.name_en} ({config.site}). Start the agent: python -m site_agent run")
    return 0


async def _run_headless(args: argparse.Namespace) -> int:
    config = load_config(_config_dir(args))
    client = AgentClient(config, backoff_cap=args.backoff_cap)
    clerk = install_clerk(client, demo=bool(args.demo))  # self-test, clerk state, updates (issue 7)
    install_features(client, args)
    if load_agent_settings().supervised:
        log.info("running under the update supervisor")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, client.stop)
    await client.run()
    return clerk.exit_code  # 75 after installing an update: the supervisor restarts us


def cmd_run(args: argparse.Namespace) -> int:
    if args.command == "tray" or (not args.no_tray and ui_available()):
        # Imported here, not at the top: the window needs tkinter, which a headless
        # kiosk (`run --no-tray`) may not have installed.
        from site_agent.ui.app import tray_main

        return tray_main(args)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_run_headless(args))


def cmd_devices(args: argparse.Namespace) -> int:
    return devices_main()


def cmd_autostart(args: argparse.Namespace) -> int:
    if args.action == "enable":
        print(autostart.enable())
    elif args.action == "disable":
        autostart.disable()
    else:
        print("enabled" if autostart.is_enabled() else "disabled")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m site_agent",
        description="Salaklang district agent: connects this meeting-room PC to the provincial hall.",
    )
    parser.add_argument("--config-dir", help="where the enrolment is kept (default: the user's config dir)")
    parser.add_argument(
        "--allow-insecure-http", action="store_true",
        help="development only: talk to a plain http:// hub that is not on this machine",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = sub.add_parser("enroll", help="enrol this PC with the code from the province")
    enroll.add_argument("--hub", required=True, type=hub_url, help="hub URL, e.g. https://salaklang.udonthani.go.th")
    enroll.add_argument("--code", required=True, help="one-time enrolment code (XXXXX-XXXXX)")
    enroll.set_defaults(func=cmd_enroll)

    run = sub.add_parser("run", help="connect and stay connected")
    run.add_argument("--no-tray", action="store_true", help="headless: no icon, no window (kiosk/service)")
    run.add_argument("--demo", action="store_true", help="synthetic camera and microphone (demo, tests)")
    run.add_argument("--no-media", action="store_true", help="control channel, probes and self-test only")
    run.add_argument("--backoff-cap", type=positive_seconds, default=None,
                     help="longest wait between reconnects (s; default: the reconnect_max_s setting)")
    run.add_argument("--log-level", type=log_level, default="INFO")
    run.set_defaults(func=cmd_run)

    devices = sub.add_parser("devices", help="list the cameras and microphones FFmpeg can use here")
    devices.set_defaults(func=cmd_devices)

    auto = sub.add_parser("autostart", help="start the agent when this user logs in (or stop doing so)")
    auto.add_argument("action", choices=("enable", "disable", "status"))
    auto.set_defaults(func=cmd_autostart)

    add_clerk_commands(sub, cmd_run)  # tray, selftest (issue 7)
    return parser


def _check_common(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Options the clerk's subcommands declare loosely (tray --log-level): refuse bad values the same way."""
    if isinstance(getattr(args, "log_level", None), str):
        try:
            args.log_level = log_level(args.log_level)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument --log-level: {exc}")
    cap = getattr(args, "backoff_cap", None)
    if isinstance(cap, float) and not cap > 0:
        parser.error(f"argument --backoff-cap: {cap!r} must be more than 0 seconds")


def _setting_problems(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        env = AgentSettings.env_name(field) if field in AgentSettings.model_fields else field
        lines.append(f"  {env}={err.get('input')!r}: {err['msg']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with a usage line on a bad argument
    _check_common(parser, args)
    if args.allow_insecure_http:
        # Through the environment: the update supervisor's child and the tray read it too.
        os.environ[AgentSettings.env_name("allow_insecure_http")] = "1"
    try:
        load_agent_settings()  # a bad SALAKLANG_* variable is named here, before anything starts
    except ValidationError as exc:
        print("ตั้งค่าไม่ถูกต้อง / invalid agent setting (docs/SETTINGS.md, Agent settings):", file=sys.stderr)
        print(_setting_problems(exc), file=sys.stderr)
        return USAGE_ERROR
    try:
        result: int = args.func(args)
    except (NotEnrolled, BrokenConfig) as exc:
        print(exc, file=sys.stderr)
        return USAGE_ERROR
    except InsecureHub as exc:
        print(exc.message_th, file=sys.stderr)
        print(exc.message_en, file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    return result
