"""The tray icon: its colour says it all, its menu holds the clerk's six actions.

The menu is described by :func:`site_agent.ui.menu.menu_entries` (pure:
state → entries) and driven by :class:`TrayController` (entry key → a
:class:`ClerkAgent` action on the agent's event loop), so both are tested
without a desktop, with pystray's ``dummy`` backend and without ``run()``.
pystray itself is imported only when an icon is built: on a Linux box
without a display it would fail at import time. The process that puts the
icon beside the clerk window is :mod:`site_agent.ui.app`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from PIL import Image, ImageDraw

from site_agent.clerk.service import ClerkAgent
from site_agent.clerk.state import (
    COLOUR_RGB,
    Colour,
    Lang,
    Notice,
    UiState,
    colour,
    status_sentence,
)
from site_agent.ui.menu import MenuEntry, menu_entries

log = logging.getLogger("site_agent.ui.tray")


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


def ui_available() -> bool:
    """Can this session show a window? (Linux needs an X or Wayland display.)"""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def start_icon(controller: TrayController) -> Any:
    """Show the icon beside Tk's main loop, or return None where that cannot work.

    Only the win32 and xorg backends can run detached from their own main
    loop; GTK/AppIndicator want the main thread, which Tk already owns, so on
    Linux we ask for xorg (a coloured icon without a menu; the window is the menu).
    """
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
