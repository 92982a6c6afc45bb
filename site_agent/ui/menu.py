"""The clerk's actions as menu entries: one list for the tray menu and the window's buttons.

Pure (state → entries), so the tray and the window depend on it and not on
each other: the window presses a key through an :class:`Activator` (the
tray controller), it never imports the tray.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Protocol

from site_agent.clerk.state import Lang, UiState, floor_label

# Keys of the clerk's actions, in menu order (the window uses the same keys).
ACTIONS = ("join", "hand", "selftest", "network", "help", "send_logs", "language", "window", "quit")


@dataclass(frozen=True)
class MenuEntry:
    key: str
    text: str
    enabled: bool = True
    default: bool = False  # the icon's click action


class Activator(Protocol):
    """Runs one action by key; the future resolves to the message shown to the clerk."""

    def activate(self, key: str) -> concurrent.futures.Future[str]: ...


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
