"""The clerk-facing agent: UI state, the clerk's actions, and the hub commands behind them.

The tray menu and the clerk window are two views of this one object; a
headless agent (``run --no-tray``) installs it too, so the hub's commands
below work everywhere.

Hub → agent commands handled here (typed, site_agent.protocol.commands):

* ``SelfTest`` → ``SelfTestResult`` (headless: the speaker check is *skipped*,
  which is not a pass);
* ``ConferenceState`` → the floor item: queued (position), granted, denied,
  or no briefing running — the hub's answer to every floor request;
* ``ClerkState`` (link colour, briefings, help phone) and ``Reminder``
  (a briefing starts soon: a notice now);
* ``UpdateCheck`` → ``UpdateOutcome`` (see :mod:`site_agent.updater`).

Agent → hub: :class:`~site_agent.protocol.FloorRequest` (raise/lower the hand),
:class:`~site_agent.protocol.ClerkRequest` (join, leave) and
:class:`~site_agent.protocol.SelfTestReport`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import site_agent
from site_agent import logs
from site_agent import protocol as p
from site_agent.clerk.meeting import ClerkMeeting
from site_agent.clerk.selftest import (
    CheckResult,
    Confirm,
    PollerRouter,
    SelfTestInputs,
    SelfTestReport,
    real_inputs,
    run_selftest,
)
from site_agent.clerk.state import Briefing, Lang, Notice, UiState, notices, reminder_notice
from site_agent.client import AgentClient, CommandFailed
from site_agent.config import default_config_dir, load_config
from site_agent.features import install_features
from site_agent.netmon.probe import local_snmp_target
from site_agent.netmon.snmp import SnmpTarget
from site_agent.settings import load_agent_settings
from site_agent.updater import (
    NO_UPDATE_BEFORE_BRIEFING_S,
    RESTART_EXIT,
    Updater,
    confirm_running,
)

log = logging.getLogger("site_agent.clerk.service")

Subscriber = Callable[[UiState, list[Notice]], None]
InputsFactory = Callable[[Confirm | None], SelfTestInputs]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ClerkAgent:
    def __init__(
        self,
        client: AgentClient,
        *,
        lang: Lang = "th",
        inputs_factory: InputsFactory | None = None,
        update_check_s: float = 3600.0,
        updates_root: Path | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.lang: Lang = lang
        self.now = now
        cfg = client.config
        self.state = UiState(site_name_th=cfg.name_th, site_name_en=cfg.name_en)
        self.help_phone: str = str(cfg.extra.get("help_phone", ""))
        self.last_report: SelfTestReport | None = None
        self.quit_requested = False
        self.router_target: Any = None  # site_agent.netmon.snmp.SnmpTarget from the hub's link-health config
        self.exit_code = 0
        self._shown: set[str] = set()
        self._subscribers: list[Subscriber] = []
        self._inputs_factory = inputs_factory or (
            lambda confirm: real_inputs(cfg.hub_url, confirm, preferred=cfg.extra.get("devices") or {})
        )
        self.update_check_s = update_check_s
        settings = load_agent_settings()
        root = updates_root or settings.updates_dir or cfg.config_dir / "updates"
        self.updater = Updater(
            hub_url=cfg.hub_url, site=cfg.site, token=cfg.token, root=root,
            running_version=client.version, guard=self.update_guard, restart=self._restart_for_update,
            on_waiting=lambda v: self._set(update_waiting=v),
            public_key=cfg.update_public_key,
        )
        client.add_listener(self._on_client_event)
        client.add_command_observer(self._observe_command)
        client.add_command_handler(p.SelfTest, self._cmd_selftest)
        client.add_command_handler(p.ClerkState, self._cmd_clerk_state)
        client.add_command_handler(p.ConferenceState, self._cmd_conference_state)
        client.add_command_handler(p.Reminder, self._cmd_reminder)
        client.add_command_handler(p.UpdateCheck, self._cmd_update_check)
        client.add_command_handler(p.SendLogs, self._cmd_send_logs)
        self.meeting = ClerkMeeting(client)  # identity, roll call, votes, the confidential join (issue 16)
        client.add_start_task(self._connected_loop)

    # --- state ----------------------------------------------------------------------
    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    def _set(self, *extra: Notice, **changes: Any) -> None:
        before = self.state
        self.state = before.with_(**changes)
        self._publish(before, extra)

    def tick(self) -> None:
        """Clock-driven notices (the 10-minute reminder); the UIs call this every few seconds."""
        self._publish(self.state)

    def _publish(self, before: UiState, extra: tuple[Notice, ...] = ()) -> None:
        # Notices the hub asked for (a reminder) come first; the same key is never shown twice.
        due = [n for n in extra if n.key not in self._shown]
        due += notices(before, self.state, self.now(), frozenset(self._shown) | {n.key for n in due})
        self._shown.update(n.key for n in due)
        for fn in list(self._subscribers):
            try:
                fn(self.state, due)
            except Exception:
                log.exception("UI subscriber failed")

    def _on_client_event(self, event: str, data: dict[str, Any]) -> None:
        if event == "connected":
            welcome = self.client.welcome
            self._set(
                connected=True,
                site_name_th=welcome.name_th if welcome else self.state.site_name_th,
                site_name_en=welcome.name_en if welcome else self.state.site_name_en,
            )
        elif event == "disconnected":
            self._set(connected=False, in_briefing=False, floor="none", floor_position=None, floor_detail="")
        elif event == "update_required":
            self._set(update_required=str(data.get("min_version", "?")))

    def _observe_command(self, command: p.HubCommand[Any]) -> None:
        """Follow what other features are told (join/leave, the router) to keep the UI truthful."""
        if isinstance(command, p.JoinConference):
            self._set(in_briefing=True)
        elif isinstance(command, p.LeaveConference):
            self._set(in_briefing=False, floor="none", floor_position=None, floor_detail="")
        elif isinstance(command, p.ConfigureLinkHealth) and command.snmp is not None:
            # The router the self-test checks is the one the link-health poller uses.
            self.router_target = SnmpTarget(**command.snmp.model_dump())

    def update_guard(self) -> str | None:
        """Why an update must not be installed now, or None."""
        if self.state.in_briefing:
            return "a briefing is running"
        soon = self.state.briefing_due_within(self.now(), timedelta(seconds=NO_UPDATE_BEFORE_BRIEFING_S))
        if soon is not None:
            return f"a briefing starts at {soon.starts_at.isoformat()} (within 30 minutes)"
        return None

    def _restart_for_update(self) -> None:
        self.exit_code = RESTART_EXIT
        self.quit_requested = True
        asyncio.get_running_loop().call_later(0.2, self.client.stop)

    # --- hub commands ----------------------------------------------------------------------
    async def _cmd_selftest(self, command: p.SelfTest) -> p.SelfTestResult:
        report = await self.selftest(confirm=None, push=False)
        return p.SelfTestResult.model_validate(report.to_result())

    async def _cmd_clerk_state(self, command: p.ClerkState) -> p.ClerkStateApplied:
        changes: dict[str, Any] = {}
        if command.in_briefing is not None:
            changes["in_briefing"] = command.in_briefing
        if command.link is not None:
            changes["link"] = command.link
        if command.briefings is not None:
            changes["briefings"] = tuple(
                Briefing(title_th=b.title_th, title_en=b.title_en or b.title_th,
                         starts_at=datetime.fromtimestamp(b.starts_at, UTC), key=b.key or str(b.starts_at))
                for b in command.briefings
            )
        applied = sorted(changes)
        if command.help_phone is not None:
            self.help_phone = command.help_phone
            applied.append("help_phone")
        self._set(**changes)
        return p.ClerkStateApplied(applied=applied)

    async def _cmd_conference_state(self, command: p.ConferenceState) -> p.Done:
        """The hub's floor state for this site: pushed on each change, and the answer to each request."""
        floor = command.floor
        self._set(
            in_briefing=command.conference_id is not None,
            floor=floor.status,
            floor_position=floor.position if floor.status == "queued" else None,
            floor_detail=floor.detail,
        )
        return p.Done()

    async def _cmd_reminder(self, command: p.Reminder) -> p.Done:
        """A briefing starts soon: remember it (the update guard, the status line) and say so now."""
        at = datetime.fromtimestamp(command.starts_at, UTC)
        key = f"occurrence:{command.occurrence_id}"
        others = tuple(b for b in self.state.briefings if b.key != key)
        briefing = Briefing(command.title, command.title, at, key)
        self._set(reminder_notice(briefing, command.message_th, command.message_en), briefings=(*others, briefing))
        return p.Done()

    async def _cmd_update_check(self, command: p.UpdateCheck) -> p.UpdateOutcome:
        return p.UpdateOutcome.model_validate(await self.updater.check_and_apply())

    async def _cmd_send_logs(self, command: p.SendLogs) -> p.LogsSent:
        cfg = self.client.config
        try:
            result = await logs.send_logs(cfg.hub_url, cfg.site, cfg.token)
        except Exception as exc:  # the hub's answer to the operator says why
            raise CommandFailed(f"send logs failed: {type(exc).__name__}: {exc}") from exc
        return p.LogsSent(stored=str(result.get("stored", ""))[:200], bytes=int(result.get("bytes", 0)))

    async def _connected_loop(self, client: AgentClient) -> None:
        if confirm_running(self.updater.root, client.version):
            log.info("now running agent %s (update confirmed)", client.version)
        while True:
            try:
                result = await self.updater.check_and_apply()
                log.info("update check: %s", result.get("outcome"))
            except Exception as exc:  # the hub may not offer updates at all; keep the agent up
                log.info("update check failed: %s", exc)
            await asyncio.sleep(self.update_check_s)

    # --- clerk actions (menu items and window buttons) ------------------------------------
    async def join(self) -> str:
        await self._request("join")
        return "ส่งคำขอเข้าร่วมประชุมแล้ว" if self.lang == "th" else "Join request sent."

    async def leave(self) -> str:
        await self._request("leave")
        self._set(in_briefing=False, floor="none", floor_position=None, floor_detail="")
        return "ออกจากประชุมแล้ว" if self.lang == "th" else "You left the briefing."

    async def toggle_hand(self) -> str:
        """Raise the hand, or lower it (withdraws a request not yet granted, gives the floor back).

        The hub answers every request with a ``conference_state`` (queued at position N,
        granted, denied, or no briefing running) that replaces the "sent" state set here.
        """
        if self.state.floor in ("pending", "queued", "granted"):
            await self.client.send(p.FloorRequest(action="release"))
            self._set(floor="released", floor_position=None, floor_detail="")
            return "ลดมือแล้ว" if self.lang == "th" else "Hand lowered."
        await self.client.send(p.FloorRequest(action="request"))
        self._set(floor="pending", floor_position=None, floor_detail="")
        return "ยกมือแล้ว รอจังหวัดตอบ" if self.lang == "th" else "Hand raised; waiting for the province's answer."

    async def _request(self, action: Literal["join", "leave"]) -> None:
        await self.client.send(p.ClerkRequest(action=action, sent_at=time.time()))

    async def selftest(
        self,
        confirm: Confirm | None,
        push: bool = True,
        on_result: Callable[[CheckResult], None] | None = None,
        inputs: SelfTestInputs | None = None,
    ) -> SelfTestReport:
        inp = inputs or self.make_inputs(confirm)
        report = await run_selftest(inp, on_result=on_result)
        self.last_report = report
        self._remember_devices(inp, report)
        self._set(
            selftest_ready=report.ready,
            selftest_reasons_th=tuple(report.reasons("th")),
            selftest_reasons_en=tuple(report.reasons("en")),
        )
        if push and self.client.connected:
            result = report.to_result()
            await self.client.send(
                p.SelfTestReport(
                    ready=report.ready, reasons=result["reasons"], checks=result["checks"],
                    trigger="clerk", measured_at=time.time(),
                )
            )
        return report

    def _remember_devices(self, inp: SelfTestInputs, report: SelfTestReport) -> None:
        """Devices that just passed become this PC's choice (agent.json), so the next clerk needn't choose."""
        chosen = dict(inp.extra.get("devices") or {})
        by_key = {c.key: c.passed for c in report.checks}
        keep = {k: v for k, v in chosen.items() if by_key.get("camera" if k == "video" else "microphone")}
        cfg = self.client.config
        if keep and {**cfg.extra.get("devices", {}), **keep} != cfg.extra.get("devices"):
            cfg.extra["devices"] = {**cfg.extra.get("devices", {}), **keep}
            try:
                cfg.save()
            except OSError as exc:
                log.warning("could not remember the devices: %s", exc)

    def make_inputs(self, confirm: Confirm | None) -> SelfTestInputs:
        inp = self._inputs_factory(confirm)
        if inp.router is None:
            # The router the link-health poller uses: this PC's own config first, else the hub's.
            target = local_snmp_target(self.client.config) or self.router_target
            if target is not None:
                inp.router = PollerRouter(target)
        return inp

    def link_status(self) -> str:
        th = self.lang == "th"
        rtt = self.client.control_rtt_ms()
        words = {
            "unknown": ("ยังไม่ทราบ", "unknown"), "ok": ("ปกติ", "good"),
            "degraded": ("ช้า", "degraded"), "down": ("ขาด", "down"),
        }[self.state.link]
        lines = [
            (f"เชื่อมต่อจังหวัด: {'ได้' if self.state.connected else 'ไม่ได้'}" if th
             else f"Connected to the province: {'yes' if self.state.connected else 'no'}"),
            (f"คุณภาพเครือข่าย: {words[0]}" if th else f"Link quality: {words[1]}"),
        ]
        if rtt is not None:
            lines.append(f"{'เวลาตอบกลับ' if th else 'Round trip'}: {rtt:.0f} ms")
        return "\n".join(lines)

    def help_text(self) -> str:
        phone = self.help_phone or "-"
        if self.lang == "th":
            return (
                f"โทรหาศาลากลางจังหวัด: {phone}\n"
                "1. กด 'ทดสอบอุปกรณ์' แล้วทำตามคำแนะนำบรรทัดที่ไม่ผ่าน\n"
                "2. ถ้ายังไม่ได้ กด 'ส่งบันทึกให้จังหวัด' แล้วโทรแจ้งจังหวัด\n"
                f"โปรแกรมรุ่น {self.client.version}"
            )
        return (
            f"Call the province: {phone}\n"
            "1. Press 'Test devices' and follow the advice on each failed line.\n"
            "2. If it still fails, press 'Send logs to the province', then call.\n"
            f"Agent version {self.client.version}"
        )

    async def send_logs(self) -> str:
        cfg = self.client.config
        try:
            result = await logs.send_logs(cfg.hub_url, cfg.site, cfg.token)
        except Exception as exc:
            log.warning("send logs failed: %s", exc)
            return ("ส่งบันทึกไม่สำเร็จ โปรดโทรแจ้งจังหวัด" if self.lang == "th"
                    else f"Could not send the logs ({exc}); call the province.")
        return (f"ส่งบันทึกให้จังหวัดแล้ว ({result.get('bytes', 0)} ไบต์)" if self.lang == "th"
                else f"Logs sent to the province ({result.get('bytes', 0)} bytes).")

    def quit(self) -> None:
        self.quit_requested = True
        self.client.stop()


def install_clerk(client: AgentClient, demo: bool = False) -> ClerkAgent:
    """The clerk of a headless agent (``run --no-tray``): self-test, clerk state, floor and updates.

    One per client, made by the entry point and held by it (the tray holds its own):
    the agent's state lives in the objects of its process, not in module globals.
    """

    def inputs(confirm: Confirm | None) -> SelfTestInputs:
        return real_inputs(
            client.config.hub_url, confirm, preferred=client.config.extra.get("devices") or {}, synthetic=demo
        )

    return ClerkAgent(client, inputs_factory=inputs)


async def run_headless(config_dir: Path | None, *, update_check_s: float = 3600.0, demo: bool = False) -> int:
    """`run --no-tray`: the same agent without UI; returns the exit code (75 = restart into an update)."""
    config = load_config(config_dir)
    client = AgentClient(config)

    clerk = install_clerk(client, demo=demo)
    clerk.update_check_s = update_check_s
    install_features(client)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, client.stop)
    await client.run()
    return clerk.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m site_agent.clerk.service", description="headless agent with clerk features")
    parser.add_argument("--config-dir")
    parser.add_argument("--update-check-s", type=float, default=3600.0)
    parser.add_argument("--demo", action="store_true", help="synthetic camera, microphone and speaker")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logs.setup_logging(args.log_level)
    log.info("%s", version_line())
    return asyncio.run(
        run_headless(Path(args.config_dir) if args.config_dir else None, update_check_s=args.update_check_s,
                     demo=args.demo)
    )


def add_clerk_commands(sub: Any, cmd_run: Callable[[Any], int]) -> None:
    """`tray` and `selftest` subcommands for `python -m site_agent` (`autostart` is the UI's, in cli)."""
    tray = sub.add_parser("tray", help="the tray icon and the clerk window (default of `run` on a desktop)")
    tray.add_argument("--demo", action="store_true", help="synthetic camera, microphone and speaker")
    tray.add_argument("--log-level", default="INFO")
    tray.add_argument("--no-tray", action="store_true", help=argparse.SUPPRESS)
    tray.add_argument("--backoff-cap", type=float, default=30.0, help=argparse.SUPPRESS)
    tray.set_defaults(func=cmd_run)

    st = sub.add_parser("selftest", help="test camera, microphone, speakers, hub, link and router; exit 1 if not ready")
    st.add_argument("--demo", action="store_true", help="synthetic camera, microphone and speaker")
    st.add_argument("--lang", choices=("th", "en"), default="th")
    st.set_defaults(func=selftest_main)


def selftest_main(args: Any) -> int:
    """`python -m site_agent selftest`: the clerk's checks in a terminal (asks about the tone if it can)."""
    config = load_config(Path(args.config_dir) if args.config_dir else default_config_dir())
    confirm: Confirm | None = None
    if sys.stdin.isatty():

        async def ask(th: str, en: str) -> bool | None:
            answer = await asyncio.to_thread(input, f"{th} / {en} [y/n] ")
            return answer.strip().lower() in ("y", "yes", "ใช่", "ได้ยิน")

        confirm = ask
    inp = real_inputs(config.hub_url, confirm, preferred=config.extra.get("devices") or {}, synthetic=args.demo)
    report = asyncio.run(run_selftest(inp, on_result=lambda r: print(r.line(args.lang), flush=True)))
    print(("พร้อม" if args.lang == "th" else "READY") if report.ready else ("ยังไม่พร้อม" if args.lang == "th" else "NOT READY"))
    return 0 if report.ready else 1


def version_line() -> str:
    return f"Salaklang agent {site_agent.__version__} (Python {sys.version.split()[0]})"


if __name__ == "__main__":
    sys.exit(main())
