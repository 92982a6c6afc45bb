"""The tray icon: its colour says it all, its menu holds the clerk's six actions.

The menu is described by :func:`menu_entries` (pure: state → entries) and
driven by :class:`TrayController` (entry key → a :class:`ClerkAgent` action
on the agent's event loop), so both are tested without a desktop, with
pystray's ``dummy`` backend and without ``run()``. pystray itself is imported
only when an icon is built: on a Linux box without a display it would fail
at import time.

Threads: the agent (asyncio) runs in a background thread; the Tk clerk
window owns the main thread; pystray runs detached. On Linux's xorg backend
the icon has no menu, so the window is always shown and is the menu.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from site_agent.clerk.service import ClerkAgent, clerk_for
from site_agent.clerk.state import (
    COLOUR_RGB,
    Colour,
    Lang,
    Notice,
    UiState,
    colour,
    floor_label,
    status_sentence,
)

log = logging.getLogger("site_agent.ui.tray")

# Keys of the clerk's actions, in menu order (the window uses the same keys).
ACTIONS = ("join", "hand", "selftest", "network", "help", "send_logs", "language", "window", "quit")


@dataclass(frozen=True)
class MenuEntry:
    key: str
    text: str
    enabled: bool = True
    default: bool = False  # the icon's click action


def menu_entries(state: UiState, lang: Lang, has_window: bool = True) -> list[MenuEntry]:
    th = lang == "th"
    joined = state.in_briefing
    join_text = (
        ("ออกจากประชุม" if joined else "เข้าร่วมประชุม") if th else ("Leave briefing" if joined else "Join briefing")
    )
    entries = [
        MenuEntry("join", join_text, enabled=state.connected),
        MenuEntry("hand", floor_label(state, lang), enabled=state.connected and state.in_briefing),
        MenuEntry("selftest", "ทดสอบอุปกรณ์" if th else "Test devices"),
        MenuEntry("network", "สถานะเครือข่าย" if th else "Network status"),
        MenuEntry("help", "ช่วยเหลือ" if th else "Help"),
        MenuEntry("send_logs", "ส่งบันทึกให้จังหวัด" if th else "Send logs to the province"),
        MenuEntry("language", "English" if th else "ภาษาไทย"),
    ]
    if has_window:
        entries.append(MenuEntry("window", "เปิดหน้าต่าง" if th else "Open window", default=True))
    entries.append(MenuEntry("quit", "ออก" if th else "Quit"))
    return entries


def icon_image(c: Colour, size: int = 64) -> Image.Image:
    """A filled circle in the state colour with a white ring (readable on dark and light bars)."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    pad = size // 16
    draw.ellipse((pad, pad, size - pad, size - pad), fill=(*COLOUR_RGB[c], 255), outline=(255, 255, 255, 255),
                 width=max(2, size // 16))
    return img


class TrayController:
    """Menu keys → clerk actions, run on the agent's loop; results shown as messages."""

    def __init__(
        self,
        clerk: ClerkAgent,
        loop: asyncio.AbstractEventLoop,
        *,
        open_window: Callable[[], None] | None = None,
        show_message: Callable[[str, str], None] | None = None,
        confirm_tone: Callable[[str, str], concurrent.futures.Future[bool | None]] | None = None,
    ) -> None:
        self.clerk = clerk
        self.loop = loop
        self.open_window = open_window
        self.show_message = show_message or (lambda title, body: None)
        self.confirm_tone = confirm_tone
        self.messages: list[tuple[str, str]] = []  # (title, body) shown, newest last
        self.icon: Any = None
        clerk.subscribe(self._on_state)

    @property
    def lang(self) -> Lang:
        return self.clerk.lang

    def entries(self) -> list[MenuEntry]:
        return menu_entries(self.clerk.state, self.lang, has_window=self.open_window is not None)

    def _say(self, title: str, body: str) -> None:
        self.messages.append((title, body))
        self.show_message(title, body)
        if self.icon is not None and getattr(self.icon, "HAS_NOTIFICATION", False):
            try:
                self.icon.notify(body, title)
            except Exception:  # dummy/xorg backends cannot notify
                log.debug("notification not shown: %s", body)

    def _submit(self, title: str, coro: Coroutine[Any, Any, str]) -> concurrent.futures.Future[str]:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)

        def done(f: concurrent.futures.Future[str]) -> None:
            try:
                self._say(title, f.result())
            except Exception as exc:
                self._say(title, f"{type(exc).__name__}: {exc}")

        fut.add_done_callback(done)
        return fut

    def activate(self, key: str) -> concurrent.futures.Future[str]:
        """Run one menu action; the future resolves to the message shown to the clerk."""
        c = self.clerk
        title = next((e.text for e in self.entries() if e.key == key), key)
        if key == "join":
            return self._submit(title, c.leave() if c.state.in_briefing else c.join())
        if key == "hand":
            return self._submit(title, c.toggle_hand())
        if key == "selftest":
            return self._submit(title, self._selftest())
        if key == "network":
            return self._done(title, c.link_status())
        if key == "help":
            return self._done(title, c.help_text())
        if key == "send_logs":
            return self._submit(title, c.send_logs())
        if key == "language":
            c.lang = "en" if c.lang == "th" else "th"
            self._refresh_icon()
            return self._done(title, status_sentence(c.state, c.now(), c.lang))
        if key == "window" and self.open_window is not None:
            self.open_window()
            return self._done(title, "")
        if key == "quit":
            self.loop.call_soon_threadsafe(c.quit)
            if self.icon is not None:
                try:
                    self.icon.stop()
                except Exception:
                    log.debug("icon stop failed", exc_info=True)
            return self._done(title, "")
        raise KeyError(key)

    def _done(self, title: str, body: str) -> concurrent.futures.Future[str]:
        fut: concurrent.futures.Future[str] = concurrent.futures.Future()
        if body:
            self._say(title, body)
        fut.set_result(body)
        return fut

    async def _selftest(self) -> str:
        confirm = None
        if self.confirm_tone is not None:
            asker = self.confirm_tone

            async def confirm_fn(th: str, en: str) -> bool | None:
                return await asyncio.wrap_future(asker(th, en))

            confirm = confirm_fn
        report = await self.clerk.selftest(confirm=confirm)
        if report.ready:
            return "อุปกรณ์พร้อมทุกอย่าง" if self.lang == "th" else "All devices ready."
        return "\n".join(report.reasons(self.lang))

    # --- pystray ------------------------------------------------------------------------
    def build_menu(self, pystray: Any) -> Any:
        def item(index: int) -> Any:
            def text(_item: Any) -> str:
                return self.entries()[index].text

            def enabled(_item: Any) -> bool:
                return self.entries()[index].enabled

            key = self.entries()[index].key
            return pystray.MenuItem(
                text, lambda _icon, _item: self.activate(key), enabled=enabled,
                default=self.entries()[index].default,
            )

        return pystray.Menu(*(item(i) for i in range(len(self.entries()))))

    def make_icon(self, pystray: Any) -> Any:
        state = self.clerk.state
        self.icon = pystray.Icon(
            "salaklang-agent", icon_image(colour(state)),
            title=status_sentence(state, self.clerk.now(), self.lang), menu=self.build_menu(pystray),
        )
        return self.icon

    def _refresh_icon(self) -> None:
        icon = self.icon
        if icon is None:
            return
        state = self.clerk.state
        icon.icon = icon_image(colour(state))
        icon.title = status_sentence(state, self.clerk.now(), self.lang)[:120]
        if getattr(icon, "HAS_MENU", False) and getattr(icon, "_running", False):
            try:
                icon.update_menu()
            except NotImplementedError:
                log.debug("backend cannot update its menu")

    def _on_state(self, state: UiState, due: list[Notice]) -> None:
        self._refresh_icon()
        for n in due:
            self._say(n.title(self.lang), n.body(self.lang))


# --- the process -------------------------------------------------------------------------


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


def ui_available() -> bool:
    """Can this session show a window? (Linux needs an X or Wayland display.)"""
    import os

    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def start_icon(controller: TrayController) -> Any:
    """Show the icon beside Tk's main loop, or return None where that cannot work.

    Only the win32 and xorg backends can run detached from their own main
    loop; GTK/AppIndicator want the main thread, which Tk already owns, so on
    Linux we ask for xorg (a coloured icon without a menu; the window is the menu).
    """
    import os

    if sys.platform.startswith("linux"):
        os.environ.setdefault("PYSTRAY_BACKEND", "xorg")
    try:
        import pystray

        icon = controller.make_icon(pystray)
        if type(icon)._run_detached is pystray._base.Icon._run_detached:
            controller.icon = None
            return None  # this backend cannot run beside Tk (and would leave a waiting thread)
        icon.run_detached()
    except Exception as exc:  # no display, no tray: the window is the whole UI
        log.info("no tray icon (%s)", exc)
        controller.icon = None
        return None
    return icon


def tray_main(args: argparse.Namespace) -> int:
    """`python -m site_agent tray` (and `run` without --no-tray): icon + clerk window."""
    import os

    from site_agent.clerk.selftest import (
        SelfTestInputs,
        real_inputs,
    )
    from site_agent.client import AgentClient
    from site_agent.config import NotEnrolled, default_config_dir, load_config
    from site_agent.logs import setup_logging

    setup_logging(getattr(args, "log_level", "INFO"))
    config_dir = Path(args.config_dir) if getattr(args, "config_dir", None) else default_config_dir()
    try:
        config = load_config(config_dir)
    except NotEnrolled as exc:
        if not ui_available():
            print(exc, file=sys.stderr)
            return 2
        from site_agent.ui.window import EnrolDialog

        # First run on this PC: the clerk types the province's code; nothing else to set up.
        enrolled = EnrolDialog(config_dir, os.environ.get("SALAKLANG_HUB_URL", "")).run()
        if enrolled is None:
            return 2
        config = enrolled
    from site_agent.ui.autostart import SingleInstance

    lock = SingleInstance(config_dir)
    if not lock.acquire():
        print("โปรแกรมเปิดอยู่แล้ว / the agent is already running", file=sys.stderr)
        return 3
    client = AgentClient(config)
    demo = bool(getattr(args, "demo", False)) or os.environ.get("SALAKLANG_SYNTHETIC_DEVICES") == "1"

    def inputs(confirm: Any) -> SelfTestInputs:
        return real_inputs(config.hub_url, confirm, preferred=config.extra.get("devices") or {}, synthetic=demo)

    clerk = clerk_for(client, inputs_factory=inputs)
    try:
        from site_agent.features import install_features

        install_features(client, args, headless=False)
    except ImportError:
        log.info("no extra agent features installed")
    loop, thread = start_agent_thread(clerk)
    from site_agent.ui.window import ClerkWindow

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m site_agent.ui.tray")
    parser.add_argument("--config-dir")
    parser.add_argument("--demo", action="store_true", help="synthetic camera, microphone and speaker")
    parser.add_argument("--log-level", default="INFO")
    return tray_main(parser.parse_args(argv))


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: module state
    # (the client → clerk map) must exist once.
    from site_agent.ui.tray import main as _main

    sys.exit(_main())
