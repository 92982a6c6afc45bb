"""`python -m site_agent ...`: enroll, run (headless or with the tray)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from site_agent.config import NotEnrolled, default_config_dir, load_config


def _config_dir(args: argparse.Namespace) -> Path:
    return Path(args.config_dir) if args.config_dir else default_config_dir()


def cmd_enroll(args: argparse.Namespace) -> int:
    from site_agent.enrol import EnrolFailed, enrol

    try:
        config = asyncio.run(enrol(args.hub, args.code, _config_dir(args)))
    except EnrolFailed as exc:
        print(exc.message_th, file=sys.stderr)
        print(exc.message_en, file=sys.stderr)
        return 1
    print(f"ลงทะเบียนสำเร็จ: {config.name_th} ({config.site})")
    print(f"Enrolled as {config.name_en} ({config.site}). Start the agent: python -m site_agent run")
    return 0


async def _run_headless(args: argparse.Namespace) -> int:
    from site_agent.clerk.service import install_clerk
    from site_agent.client import AgentClient
    from site_agent.features import install_features

    try:
        config = load_config(_config_dir(args))
    except NotEnrolled as exc:
        print(exc, file=sys.stderr)
        return 2
    client = AgentClient(config, backoff_cap=args.backoff_cap)
    install_clerk(client, demo=bool(args.demo))  # self-test, clerk state, updates (issue 7)
    install_features(client, args)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, client.stop)
    await client.run()
    from site_agent.clerk.service import exit_code

    return exit_code(client)  # 75 after installing an update: the supervisor restarts us


def cmd_run(args: argparse.Namespace) -> int:
    from site_agent.ui.tray import tray_main, ui_available

    if args.command == "tray" or (not args.no_tray and ui_available()):
        return tray_main(args)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_run_headless(args))


def cmd_devices(args: argparse.Namespace) -> int:
    from site_agent.media.endpoint import devices_main

    return devices_main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m site_agent",
        description="Salaklang district agent: connects this meeting-room PC to the provincial hall.",
    )
    parser.add_argument("--config-dir", help="where the enrolment is kept (default: the user's config dir)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = sub.add_parser("enroll", help="enrol this PC with the code from the province")
    enroll.add_argument("--hub", required=True, help="hub URL, e.g. https://salaklang.udonthani.go.th")
    enroll.add_argument("--code", required=True, help="one-time enrolment code (XXXXX-XXXXX)")
    enroll.set_defaults(func=cmd_enroll)

    run = sub.add_parser("run", help="connect and stay connected")
    run.add_argument("--no-tray", action="store_true", help="headless: no icon, no window (kiosk/service)")
    run.add_argument("--demo", action="store_true", help="synthetic camera and microphone (demo, tests)")
    run.add_argument("--no-media", action="store_true", help="control channel, probes and self-test only")
    run.add_argument("--backoff-cap", type=float, default=30.0, help="longest wait between reconnects (s)")
    run.add_argument("--log-level", default="INFO")
    run.set_defaults(func=cmd_run)

    devices = sub.add_parser("devices", help="list the cameras and microphones FFmpeg can use here")
    devices.set_defaults(func=cmd_devices)

    # Issue 7: the clerk's tray, the self-test and login autostart.
    from site_agent.clerk.service import add_clerk_commands

    add_clerk_commands(sub, cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
