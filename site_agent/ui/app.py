"""The desktop agent process: the agent's loop in a thread, the clerk window, the tray icon.

Threads: the agent (asyncio) runs in a background thread; the Tk clerk
window owns the main thread; pystray runs detached. On Linux's xorg backend
the icon has no menu, so the window is always shown and is the menu.

This module sits above :mod:`site_agent.ui.tray` and :mod:`site_agent.ui.window`
(neither imports the other): it builds both and wires the window's buttons
to the tray controller.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import threading
from pathlib import Path

from site_agent.clerk.selftest import Confirm, SelfTestInputs, real_inputs
from site_agent.clerk.service import ClerkAgent
from site_agent.client import AgentClient
from site_agent.config import NotEnrolled, default_config_dir, load_config
from site_agent.features import install_features
from site_agent.logs import setup_logging
from site_agent.settings import load_agent_settings
from site_agent.ui.autostart import SingleInstance
from site_agent.ui.tray import TrayController, start_icon, ui_available
from site_agent.ui.window import ClerkWindow, EnrolDialog

log = logging.getLogger("site_agent.ui.app")


def start_agent_thread(clerk: ClerkAgent) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """The agent's own event loop in a daemon thread; returns once the loop runs."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_until_complete(clerk.client.run())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="agent", daemon=True)
    thread.start()
    ready.wait(10)
    return loop, thread


def tray_main(args: argparse.Namespace) -> int:
    """`python -m site_agent tray` (and `run` without --no-tray): icon + clerk window."""
    settings = load_agent_settings()
    setup_logging(getattr(args, "log_level", "INFO"))
    config_dir = Path(args.config_dir) if getattr(args, "config_dir", None) else default_config_dir()
    try:
        config = load_config(config_dir)
    except NotEnrolled as exc:
        if not ui_available():
            print(exc, file=sys.stderr)
            return 2
        # First run on this PC: the clerk types the province's code; nothing else to set up.
        enrolled = EnrolDialog(config_dir, settings.hub_url).run()
        if enrolled is None:
            return 2
        config = enrolled
    lock = SingleInstance(config_dir)
    if not lock.acquire():
        print("โปรแกรมเปิดอยู่แล้ว / the agent is already running", file=sys.stderr)
        return 3
    client = AgentClient(config)
    demo = bool(getattr(args, "demo", False)) or settings.synthetic_devices

    def inputs(confirm: Confirm | None) -> SelfTestInputs:
        return real_inputs(config.hub_url, confirm, preferred=config.extra.get("devices") or {}, synthetic=demo)

    clerk = ClerkAgent(client, inputs_factory=inputs)  # this process's one clerk, held here
    install_features(client, args, headless=False)
    loop, thread = start_agent_thread(clerk)
    window = ClerkWindow(clerk, loop)
    controller = TrayController(
        clerk, loop, open_window=window.show, show_message=window.post_message, confirm_tone=window.ask_tone
    )
    window.controller = controller
    icon = start_icon(controller)
    window.always_shown = icon is None or not getattr(icon, "HAS_MENU", False)
    if window.always_shown:
        log.info("the tray icon has no menu here: the clerk window stays open and is the menu")
    window.mainloop()
    if thread.is_alive():
        with contextlib.suppress(RuntimeError):  # the loop may have closed meanwhile
            loop.call_soon_threadsafe(clerk.quit)
    thread.join(10)
    if icon is not None:
        try:
            icon.stop()
        except Exception:
            log.debug("icon stop failed", exc_info=True)
    lock.release()
    return clerk.exit_code
