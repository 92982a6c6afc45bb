"""The clerk's "present" dialog (issue 14): pick a file or share the screen live, then step its pages.

Work goes to the agent's event loop (:class:`site_agent.content.service.Presenter`,
over the agent's HTTP channel with its site token); answers and the hub's
refusals (Thai first, then English) come back through the window's queue.
"""

from __future__ import annotations

import asyncio
import tkinter as tk
from collections.abc import Callable, Coroutine
from pathlib import Path
from tkinter import filedialog
from typing import Any, Protocol

from site_agent.content.screen import ScreenUnavailable
from site_agent.content.service import Presenter, PresentRefused

FILE_TYPES = [("เอกสารและคลิป / Documents and clips", "*.pdf *.pptx *.ppt *.odp *.docx *.jpg *.jpeg *.png *.mp4")]


class Host(Protocol):
    """What the dialog needs of the clerk's window."""

    loop: asyncio.AbstractEventLoop
    root: tk.Tk

    def post(self, fn: Callable[[], object]) -> None: ...


class PresentDialog:
    def __init__(self, host: Host, presenter: Presenter, font: Any = None) -> None:
        self.host = host
        self.presenter = presenter
        top = self.top = tk.Toplevel(host.root)
        top.title("นำเสนอ / Present")
        self.status = tk.Label(top, font=font, anchor="w", justify="left", wraplength=520,
                               text="เลือกไฟล์หรือแชร์หน้าจอ / Choose a file or share the screen")
        self.status.pack(fill="x", padx=10, pady=8)
        row = tk.Frame(top)
        row.pack(fill="x", padx=10)
        buttons = [("เลือกไฟล์ / File…", self.pick), ("แชร์หน้าจอ / Share screen", self.share),
                   ("◀ หน้าก่อน / Prev", lambda: self.step("prev")), ("หน้าถัดไป / Next ▶", lambda: self.step("next")),
                   ("■ เลิกแสดง / End", lambda: self.step("end")),
                   ("■ หยุดแชร์หน้าจอ / Stop sharing", self.stop_share)]
        self.buttons: dict[str, tk.Button] = {}
        for text, command in buttons:
            b = tk.Button(row, font=font, text=text, command=command)
            b.pack(side="left", padx=2, pady=4)
            self.buttons[text] = b

    def say(self, text: str) -> None:
        self.host.post(lambda: self.status.configure(text=text))

    def _run(self, work: Coroutine[Any, Any, str]) -> None:
        async def guarded() -> None:
            try:
                self.say(await work)
            except PresentRefused as exc:
                self.say(f"{exc.refusal.th}\n{exc.refusal.en}")
            except ScreenUnavailable as exc:
                self.say(f"{exc.th}\n{exc.en}")
            except (OSError, ValueError) as exc:
                self.say(f"ส่งไม่สำเร็จ / Could not send: {exc}")

        asyncio.run_coroutine_threadsafe(guarded(), self.host.loop)

    def pick(self) -> None:
        name = filedialog.askopenfilename(parent=self.top, filetypes=FILE_TYPES)
        if name:
            self.upload(Path(name))

    def upload(self, path: Path) -> None:
        async def work() -> str:
            answer = await self.presenter.upload(path)
            return f"ส่งแล้ว กำลังแปลงไฟล์: {answer.name} / Sent, converting: {answer.name}"
        self.say(f"กำลังส่ง {path.name} … / Sending {path.name} …")
        self._run(work())

    def share(self) -> None:
        async def work() -> str:
            await self.presenter.share_screen()
            return "กำลังแชร์หน้าจอสดให้ทุกอำเภอ / Sharing the screen live with every district"
        self.say("กำลังเปิดภาพหน้าจอ … / Opening the screen …")
        self._run(work())

    def stop_share(self) -> None:
        async def work() -> str:
            await self.presenter.stop_screen()
            return "หยุดแชร์หน้าจอแล้ว / Screen sharing stopped"
        self._run(work())

    def step(self, verb: str) -> None:
        async def work() -> str:
            stage = await self.presenter.step(verb)
            if stage.item_id is None:
                return "เลิกแสดงแล้ว / Content ended"
            return f"หน้า {stage.page} จาก {stage.pages} / Page {stage.page} of {stage.pages}"
        self._run(work())


def add_present_button(host: Host, parent: tk.Misc, presenter: Presenter, font: Any = None) -> tk.Button:
    """The window's "present" button (one line in site_agent/ui/window.py)."""
    holder: list[PresentDialog] = []

    def open_dialog() -> None:
        if holder and holder[0].top.winfo_exists():
            holder[0].top.lift()
            return
        holder[:] = [PresentDialog(host, presenter, font)]

    button = tk.Button(parent, font=font, text="นำเสนอ / Present", command=open_dialog)
    button.pack(fill="x", pady=(6, 0))
    return button
