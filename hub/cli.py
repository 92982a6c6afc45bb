"""`python -m hub ...`: serve, demo, enroll, user, inventory, migrate, audit, evidence."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web
from pydantic import ValidationError
from sqlmodel import select

from hub import audit
from hub.control.enrolment import EnrolmentRefused, issue_code
from hub.db import create_db_engine, migrate, session_scope
from hub.inventory.loader import check_main, load_inventory
from hub.inventory.model import InventoryError, format_issues
from hub.inventory.sync import sync_inventory
from hub.logsetup import setup_logging
from hub.settings import ENV_PREFIX, Settings
from hub.updates import release_key
from hub.web.auth import (
    MIN_TOKEN_LENGTH,
    AuthError,
    create_api_token,
    create_operator,
    password_problem,
)
from hub.web.store import Operator


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "config", None):
        os.environ[ENV_PREFIX + "CONFIG"] = args.config
    overrides = {}
    for name in ("host", "port"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        return Settings(**overrides)
    except (ValidationError, FileNotFoundError) as exc:
        print(f"settings error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# --- argument types: a bad value is argparse's clear message and exit code 2, never a traceback.


def _port(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0–65535; 0: any free port)")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _agents(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 20:
        raise argparse.ArgumentTypeError(f"{value}: the demo simulates 0 to 20 districts")
    return value


def _token(text: str) -> str:
    # The same rule as create_api_token, checked before anything starts.
    if len(text) < MIN_TOKEN_LENGTH:
        raise argparse.ArgumentTypeError(
            f"an API token needs at least {MIN_TOKEN_LENGTH} characters, {text!r} has {len(text)}"
        )
    return text


def _password(text: str) -> str:
    # The same policy as every account (ASVS 2.1), checked before anything starts.
    problem = password_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _engine(settings: Settings) -> sa.Engine:
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    sync_inventory(engine, load_inventory(settings.inventory_path))
    return engine


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    setup_logging(args.log_level)
    # The application (every room, the media stack) loads only for the commands that run it:
    # the other commands (inventory check, user add, report, verify...) start in a second less.
    from hub.app import create_app

    app = create_app(settings)
    print(f"Salaklang hub on {settings.effective_public_url}  (Ctrl-C or SIGTERM to stop)", flush=True)
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=10)
    except OSError as exc:  # the port is taken or the address is not this machine's
        print(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo  # loads the whole application: see cmd_serve

    return asyncio.run(run_demo(args))


def cmd_enroll(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = _engine(settings)
    ttl = args.ttl_hours * 3600 if args.ttl_hours else settings.enrolment_code_ttl_s
    try:
        code, site = issue_code(engine, args.site_code, ttl, "cli")
    except LookupError:
        print(f"no site with code {args.site_code!r} in the inventory", file=sys.stderr)
        return 1
    except EnrolmentRefused as exc:
        print(exc.message_en, file=sys.stderr)
        return 1
    audit.record(engine, actor="cli", action="enrol.code_issued", target=site.code)
    print(f"{site.code} {site.name_th} ({site.name_en})")
    print(f"รหัสลงทะเบียน / enrolment code: {code}   (ใช้ได้ครั้งเดียว ภายใน {ttl // 3600} ชั่วโมง / one-time, {ttl // 3600} h)")
    print(f"On the district PC: python -m site_agent enroll --hub {settings.effective_public_url} --code {code}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise SystemExit(f"environment variable {args.password_env} is empty or unset")
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise SystemExit("passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = _engine(settings)
    try:
        operator = create_operator(engine, args.name, _read_password(args), args.role, args.display_name or "")
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    audit.record(engine, actor="cli", action="operator.created", target=operator.username,
                 detail={"role": operator.role})
    print(f"created {operator.role} {operator.username}")
    return 0


def cmd_user_token(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = _engine(settings)
    try:
        token = create_api_token(engine, args.name, args.label)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    audit.record(engine, actor="cli", action="token.created", target=args.name, detail={"label": args.label})
    print(token)
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    engine = _engine(_settings(args))
    with session_scope(engine) as session:
        for op in session.exec(select(Operator).order_by(Operator.username)):
            print(f"{op.username:20} {op.role:9} {'disabled' if op.disabled else ''}")
    return 0


def cmd_inventory_check(args: argparse.Namespace) -> int:
    return check_main(args.path)


def cmd_inventory_sync(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    try:
        result = sync_inventory(engine, load_inventory(args.path or settings.inventory_path))
    except InventoryError as exc:
        print(format_issues(exc.issues), file=sys.stderr)
        return 1
    print(result)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    migrate(create_db_engine(settings.effective_database_url))
    print("database is at the newest revision")
    return 0


def cmd_report_monthly(args: argparse.Namespace) -> int:
    from hub.reports.cli import cmd_monthly

    return cmd_monthly(args)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from hub import audit

    report = audit.verify(_engine(_settings(args)))
    print(report.text(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    from hub.evidence.verify import verify_file

    report = verify_file(_engine(_settings(args)), _settings(args), args.file)
    print(report.text(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def cmd_evidence_key(args: argparse.Namespace) -> int:
    from hub.evidence.signing import load_or_create_key, public_key_pem

    print(public_key_pem(load_or_create_key(_settings(args).data_dir)), end="")
    return 0


def cmd_release_key(args: argparse.Namespace) -> int:
    key = Path(args.key)
    try:
        if args.key_command == "new":
            print(release_key.new_key(key))
            print(f"private key in {key}: keep it off the hub; set {ENV_PREFIX}UPDATE_PUBLIC_KEY to the line above",
                  file=sys.stderr)
        elif args.key_command == "public":
            print(release_key.public_of(key))
        else:
            print(release_key.sign_file(key, Path(args.wheel)))
    except (OSError, ValueError) as exc:  # no such file, an existing key, not a key
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hub",
        description="Salaklang hub (ศาลากลาง): the provincial hall's briefing orchestrator. "
        f"Settings come from {ENV_PREFIX}* environment variables and/or a TOML file.",
    )
    parser.add_argument("--config", help=f"TOML settings file (same as {ENV_PREFIX}CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hub")
    serve.add_argument("--host")
    serve.add_argument("--port", type=_port)
    serve.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS)
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="hub + 20 simulated districts on SQLite")
    demo.add_argument("--port", type=_port, default=8080, help="listen port (0: any free port)")
    demo.add_argument("--token", type=_token,
                      help=f"also accept this string as an admin API bearer token (≥ {MIN_TOKEN_LENGTH} characters)")
    demo.add_argument("--agents", type=_agents, default=20, help="how many districts to simulate (≤ 20)")
    demo.add_argument("--data-dir", default="var/demo", help="demo database and agent configs (wiped)")
    demo.add_argument("--password", type=_password, help="admin password (default: random, printed)")
    demo.add_argument("--no-media", action="store_true", help="control plane only")
    demo.add_argument("--log-level", default="WARNING", type=str.upper, choices=LOG_LEVELS)
    demo.set_defaults(func=cmd_demo)

    enroll = sub.add_parser("enroll", help="print a one-time enrolment code for a district")
    enroll.add_argument("site_code")
    enroll.add_argument("--ttl-hours", type=_positive, help="code lifetime (default: setting)")
    enroll.set_defaults(func=cmd_enroll)

    user = sub.add_parser("user", help="control-room accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    add.add_argument("--display-name")
    add.add_argument("--password-env", help="read the password from this environment variable")
    add.set_defaults(func=cmd_user_add)
    token = user_sub.add_parser("token", help="create an API bearer token (printed once)")
    token.add_argument("name")
    token.add_argument("--label", default="script")
    token.set_defaults(func=cmd_user_token)
    listing = user_sub.add_parser("list", help="list accounts")
    listing.set_defaults(func=cmd_user_list)

    inv = sub.add_parser("inventory", help="check or sync the inventory YAML")
    inv_sub = inv.add_subparsers(dest="inventory_command", required=True, metavar="ACTION")
    check = inv_sub.add_parser("check", help="validate; every error with file, line and field")
    check.add_argument("path")
    check.set_defaults(func=cmd_inventory_check)
    sync = inv_sub.add_parser("sync", help="load into the database (idempotent)")
    sync.add_argument("path", nargs="?")
    sync.set_defaults(func=cmd_inventory_sync)

    rkey = sub.add_parser("release-key", help="the province's update signing key (on the signing PC)")
    rkey_sub = rkey.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    for name, text in (("new", "make a key; prints the public key for update_public_key"),
                       ("public", "print the public key of a key file"),
                       ("sign", "print the signature of an agent wheel")):
        action = rkey_sub.add_parser(name, help=text)
        action.add_argument("key", help="private key file (PEM)")
        if name == "sign":
            action.add_argument("wheel")
        action.set_defaults(func=cmd_release_key)

    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.set_defaults(func=cmd_migrate)

    report = sub.add_parser("report", help="monthly cost and usage report (PDF, XLSX, CSV, HTML, JSON)")
    kinds = report.add_subparsers(dest="report_command", required=True, metavar="KIND")
    monthly = kinds.add_parser("monthly", help="the monthly report for finance (issue 13)")
    monthly.add_argument("--month", required=True, help="YYYY-MM, Common or Buddhist Era (2018-04 or 2561-04)")
    monthly.add_argument("--format", default="pdf", choices=["pdf", "xlsx", "csv", "html", "json"])
    monthly.add_argument("--lang", default="th", choices=["th", "en"])
    monthly.add_argument("-o", "--output", help="file to write (default: standard output)")
    monthly.set_defaults(func=cmd_report_monthly)
    aud = sub.add_parser("audit", help="the audit log's hash chain")
    aud_sub = aud.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    aud_sub.add_parser("verify", help="valid, or the first row edited / the gap where rows were deleted"
                       ).set_defaults(func=cmd_audit_verify)

    evi = sub.add_parser("evidence", help="meeting evidence packages (signed)")
    evi_sub = evi.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")
    ever = evi_sub.add_parser("verify", help="valid, or what changed (file, field, signature, audit chain)")
    ever.add_argument("file")
    ever.set_defaults(func=cmd_evidence_verify)
    evi_sub.add_parser("public-key", help="print the hub's Ed25519 public key (PEM)"
                       ).set_defaults(func=cmd_evidence_key)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
