"""The clerk window (Tk): big buttons, today's briefings, the state in one sentence, the self-test.

Tk runs in the main thread; the agent runs on its own asyncio loop in
another. Everything that touches a widget goes through :meth:`ClerkWindow.post`
(a queue drained by Tk every 50 ms), so the agent thread never calls Tk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import os
import queue
import threading
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image, ImageTk

from site_agent.clerk.selftest import CheckResult
from site_agent.clerk.service import ClerkAgent
from site_agent.clerk.state import BANGKOK, COLOUR_RGB, Notice, UiState, colour, status_sentence
from site_agent.config import AgentConfig
from site_agent.content.service import Presenter
from site_agent.enrol import EnrolFailed, enrol
from site_agent.settings import load_agent_settings
from site_agent.ui.meeting_panel import MeetingPanel
from site_agent.ui.menu import Activator, MenuEntry, menu_entries
from site_agent.ui.present import add_present_button

# Fonts that carry Thai: Windows ships Leelawadee UI / Tahoma, Debian fonts-thai-tlwg ships Garuda/Loma.
THAI_FONTS = ("Leelawadee UI", "Tahoma", "Garuda", "Loma", "Noto Sans Thai", "Waree", "Sawasdee")
BUTTONS = ("join", "hand", "selftest", "network", "help", "send_logs", "language", "quit")


def _hex(rgb: tuple[int, int, int]) -> str:
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def thai_family(root: tk.Misc) -> str:
    available = set(tkfont.families(root))
    return next((f for f in THAI_FONTS if f in available), "TkDefaultFont")


class ClerkWindow:
    def __init__(self, clerk: ClerkAgent, loop: asyncio.AbstractEventLoop) -> None:
        self.clerk = clerk
        self.loop = loop
        self.controller: Activator | None = None  # the tray controller: presses run through it
        self.always_shown = True
        self._q: queue.Queue[Callable[[], object]] = queue.Queue()
        self._tone_future: concurrent.futures.Future[bool | None] | None = None
        self._preview: ImageTk.PhotoImage | None = None
        self.ui_map = load_agent_settings().ui_map  # tests: where to write the buttons' screen rectangles

        self.root = tk.Tk(className="salaklang-agent")
        self.root.title("ศาลากลาง — ประชุมทางไกล")
        self.root.protocol("WM_DELETE_WINDOW", self._on_close)
        family = thai_family(self.root)
        self.font = tkfont.Font(self.root, family=family, size=13)
        self.big = tkfont.Font(self.root, family=family, size=15, weight="bold")
        self.small = tkfont.Font(self.root, family=family, size=11)
        self._build()
        clerk.subscribe(lambda state, due: self.post(lambda: self._render(state, due)))
        self._render(clerk.state, [])
        self.root.after(50, self._drain)
        self.root.after(5000, self._tick)

    # --- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        # Two columns so the whole window fits a 1024×768 notebook screen:
        # the actions on the left, what is happening (briefings, self-test) on the right.
        r = self.root
        r.configure(padx=12, pady=10)
        top = tk.Frame(r)
        top.pack(fill="x")
        self.dot = tk.Canvas(top, width=28, height=28, highlightthickness=0)
        self.dot_id = self.dot.create_oval(3, 3, 25, 25, fill="grey", outline="")
        self.dot.pack(side="left", padx=(0, 8))
        self.site_label = tk.Label(top, font=self.big, anchor="w")
        self.site_label.pack(side="left", fill="x", expand=True)
        self.sentence = tk.Label(r, font=self.font, anchor="w", justify="left", wraplength=880)
        self.sentence.pack(fill="x", pady=(4, 6))

        body = tk.Frame(r)
        body.pack(fill="both", expand=True)
        grid = tk.Frame(body)
        grid.pack(side="left", fill="y", anchor="n")
        self.buttons: dict[str, tk.Button] = {}
        for i, key in enumerate(BUTTONS):
            b = tk.Button(grid, font=self.big, height=2, width=17, command=functools.partial(self.press, key))
            b.grid(row=i // 2, column=i % 2, padx=3, pady=3, sticky="nsew")
            self.buttons[key] = b

        right = tk.Frame(body)
        right.pack(side="left", fill="both", expand=True, padx=(12, 0))
        self.briefings_title = tk.Label(right, font=self.font, anchor="w")
        self.briefings_title.pack(fill="x")
        self.briefings = tk.Label(right, font=self.small, anchor="w", justify="left", wraplength=420)
        self.briefings.pack(fill="x")
        test = tk.Frame(right)
        test.pack(fill="x", pady=(8, 0))
        # An image from the start: without one Tk reads width/height as characters, not pixels.
        self._preview = ImageTk.PhotoImage(Image.new("RGB", (192, 108), (34, 34, 34)), master=r)
        self.preview = tk.Label(test, image=self._preview, bg="#222")
        self.preview.pack(side="left", anchor="n")
        side = tk.Frame(test)
        side.pack(side="left", fill="both", expand=True, padx=(8, 0))
        self.meter_label = tk.Label(side, font=self.small, anchor="w")
        self.meter_label.pack(fill="x")
        self.meter = tk.Canvas(side, width=180, height=16, bg="#ddd", highlightthickness=0)
        self.meter_bar = self.meter.create_rectangle(0, 0, 0, 16, fill="#22a03c", outline="")
        self.meter.pack(fill="x")
        self.tone = tk.Frame(side)
        self.tone_q = tk.Label(self.tone, font=self.font, anchor="w", wraplength=220, justify="left")
        self.tone_q.pack(fill="x")
        self.tone_yes = tk.Button(self.tone, font=self.font, command=lambda: self._tone(True))
        self.tone_no = tk.Button(self.tone, font=self.font, command=lambda: self._tone(False))
        self.tone_yes.pack(side="left", padx=2)
        self.tone_no.pack(side="left", padx=2)
        self.lines = tk.Text(right, height=9, width=44, font=self.small, wrap="word", relief="flat", bg=r.cget("bg"))
        self.lines.tag_configure("pass", foreground="#1a7f37")
        self.lines.tag_configure("fail", foreground="#c62828")
        self.lines.tag_configure("skip", foreground="#9a6700")
        self.lines.pack(fill="both", expand=True, pady=(6, 0))
        self.message = tk.Label(r, font=self.font, anchor="w", justify="left", wraplength=880, fg="#0b3d91")
        self.message.pack(fill="x", pady=(6, 0))
        # Issue 16: who is in the room, the roll call, votes, the confidential join code.
        self.meeting = MeetingPanel(self, r, self.clerk.meeting, lambda: self.clerk.lang)
        # Issue 14: the clerk presents a file or the PC's screen (site_agent/ui/present.py).
        self.present = add_present_button(self, r, Presenter(self.clerk.client.config), self.font)

    # --- thread-safe plumbing -----------------------------------------------------------------
    def post(self, fn: Callable[[], object]) -> None:
        self._q.put(fn)

    def _drain(self) -> None:
        while True:
            try:
                fn = self._q.get_nowait()
            except queue.Empty:
                break
            fn()
        self.root.after(50, self._drain)

    def _tick(self) -> None:
        self.loop.call_soon_threadsafe(self.clerk.tick)
        self.root.after(5000, self._tick)

    def mainloop(self) -> None:
        if self.ui_map is not None:
            self.root.after(800, self._write_ui_map, self.ui_map)
        self.root.mainloop()

    def _write_ui_map(self, path: Path) -> None:
        self.root.update_idletasks()
        widgets: dict[str, tk.Widget] = {**self.buttons, "tone_yes": self.tone_yes, "tone_no": self.tone_no,
                                         **self.meeting.widgets()}
        write_ui_map(path, {k: widget_rect(w) for k, w in widgets.items()})
        self.root.after(300, self._write_ui_map, path)

    # --- what the tray controller calls -----------------------------------------------------
    def show(self) -> None:
        self.post(lambda: (self.root.deiconify(), self.root.lift()))

    def post_message(self, title: str, body: str) -> None:
        text = f"{title}: {body}" if body else title
        self.post(lambda: self.message.configure(text=text))

    def ask_tone(self, th: str, en: str) -> concurrent.futures.Future[bool | None]:
        fut: concurrent.futures.Future[bool | None] = concurrent.futures.Future()
        self._tone_future = fut
        question = th if self.clerk.lang == "th" else en

        def show() -> None:
            self.tone_q.configure(text=question)
            self.tone.pack(fill="x", pady=(6, 0))

        self.post(show)
        return fut

    def _tone(self, heard: bool) -> None:
        self.tone.pack_forget()
        if self._tone_future is not None and not self._tone_future.done():
            self._tone_future.set_result(heard)

    # --- buttons ---------------------------------------------------------------------------------
    def press(self, key: str) -> None:
        if key == "selftest":
            self._run_selftest()
            return
        if key == "quit":
            if self.controller is not None:
                self.controller.activate("quit")
            else:
                self.loop.call_soon_threadsafe(self.clerk.quit)
            self.root.after(200, self.root.destroy)
            return
        if self.controller is not None:
            self.controller.activate(key)
            if key == "language":
                self._render(self.clerk.state, [])

    def _run_selftest(self) -> None:
        self.lines.delete("1.0", "end")
        self.message.configure(text="กำลังทดสอบอุปกรณ์…" if self.clerk.lang == "th" else "Testing devices…")

        async def confirm(th: str, en: str) -> bool | None:
            return await asyncio.wrap_future(self.ask_tone(th, en))

        inputs = self.clerk.make_inputs(confirm)
        inputs.on_frame = lambda frame: self.post(lambda: self._show_frame(frame))
        inputs.on_level = lambda level: self.post(lambda: self._show_level(level))

        def line(res: CheckResult) -> None:
            text = res.line(self.clerk.lang) + "\n"
            self.post(lambda: self.lines.insert("end", text, res.outcome))

        async def run() -> None:
            report = await self.clerk.selftest(confirm=confirm, on_result=line, inputs=inputs)
            ok = "อุปกรณ์พร้อมทุกอย่าง" if self.clerk.lang == "th" else "All devices ready."
            bad = "มีรายการไม่ผ่าน ทำตามคำแนะนำด้านบน" if self.clerk.lang == "th" else "Some checks failed: follow the advice above."
            self.post(lambda: self.message.configure(text=ok if report.ready else bad))

        asyncio.run_coroutine_threadsafe(run(), self.loop)

    def _show_frame(self, frame: np.ndarray) -> None:
        img = Image.fromarray(frame).resize((192, 108))
        self._preview = ImageTk.PhotoImage(img, master=self.root)
        self.preview.configure(image=self._preview, width=192, height=108)

    def _show_level(self, dbfs: float) -> None:
        width = max(self.meter.winfo_width(), 100)
        frac = min(1.0, max(0.0, (dbfs + 70.0) / 70.0))
        self.meter.coords(self.meter_bar, 0, 0, int(width * frac), 16)

    def _on_close(self) -> None:
        # Closing the window hides it where a tray icon can bring it back; else it quits.
        if self.always_shown:
            self.press("quit")
        else:
            self.root.withdraw()

    # --- rendering ---------------------------------------------------------------------------------
    def _render(self, state: UiState, due: list[Notice]) -> None:
        lang = self.clerk.lang
        now = self.clerk.now()
        self.dot.itemconfigure(self.dot_id, fill=_hex(COLOUR_RGB[colour(state)]))
        name = state.site_name_th if lang == "th" else state.site_name_en
        self.site_label.configure(text=name or self.clerk.client.site)
        self.sentence.configure(text=status_sentence(state, now, lang))
        entries = {e.key: e for e in self._entries(state)}
        for key, button in self.buttons.items():
            entry = entries.get(key)
            if entry is not None:
                button.configure(text=entry.text, state="normal" if entry.enabled else "disabled")
        th = lang == "th"
        self.briefings_title.configure(
            text=f"การประชุมวันนี้ ({today_label(now)})" if th else f"Today's briefings ({now.astimezone(BANGKOK):%d/%m/%Y})"
        )
        today = [
            b for b in state.briefings if b.starts_at.astimezone(BANGKOK).date() == now.astimezone(BANGKOK).date()
        ]
        self.briefings.configure(
            text="\n".join(
                f"{b.starts_at.astimezone(BANGKOK):%H:%M} น.  {b.title_th}" if th
                else f"{b.starts_at.astimezone(BANGKOK):%H:%M}  {b.title_en}"
                for b in sorted(today, key=lambda b: b.starts_at)
            ) or ("ไม่มีการประชุมวันนี้" if th else "No briefing today")
        )
        self.meter_label.configure(text="ระดับเสียงไมค์" if th else "Microphone level")
        self.tone_yes.configure(text="ได้ยิน" if th else "I heard it")
        self.tone_no.configure(text="ไม่ได้ยิน" if th else "I did not")
        if due:
            self.message.configure(text=f"{due[-1].title(lang)}: {due[-1].body(lang)}")

    def _entries(self, state: UiState) -> list[MenuEntry]:
        return menu_entries(state, self.clerk.lang)


def widget_rect(w: tk.Widget) -> list[Any]:
    return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height(), bool(w.winfo_ismapped())]


def write_ui_map(path: Path, rects: dict[str, list[Any]]) -> None:
    """Replace the file at once: the test reading it never sees half a JSON document."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(rects, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def today_label(now: datetime) -> str:
    """Thai date with the Buddhist Era year, e.g. 20/11/2569."""
    local = now.astimezone(BANGKOK)
    return f"{local.day}/{local.month}/{local.year + 543}"


def parse_enrolment(text: str, default_hub: str) -> tuple[str, str]:
    """What the clerk typed or pasted → (hub URL, code).

    Accepts the bare code (``ABCDE-23456``), or an enrolment link
    ``https://hub.example/enrol?code=ABCDE-23456`` (the hub is the link's
    origin), or ``salaklang://enrol?hub=https://hub.example&code=...``.
    """
    text = text.strip()
    if "://" in text:
        parts = urlsplit(text)
        query = parse_qs(parts.query)
        code = (query.get("code") or [""])[0]
        hub = (query.get("hub") or [""])[0] or (
            f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else default_hub
        )
        return hub.rstrip("/"), code.strip()
    return default_hub.rstrip("/"), text


class EnrolDialog:
    """First run: the clerk types the code from the province (or pastes the link). Nothing else."""

    def __init__(self, config_dir: Path, default_hub: str) -> None:
        self.config_dir = config_dir
        self.result: AgentConfig | None = None
        self.ui_map = load_agent_settings().ui_map
        self.root = tk.Tk(className="salaklang-agent")
        self.root.title("ศาลากลาง — ลงทะเบียนเครื่อง / enrol this PC")
        family = thai_family(self.root)
        font = tkfont.Font(self.root, family=family, size=13)
        big = tkfont.Font(self.root, family=family, size=15, weight="bold")
        r = self.root
        r.configure(padx=16, pady=14)
        tk.Label(r, font=big, text="ลงทะเบียนเครื่องนี้กับศาลากลางจังหวัด", anchor="w").pack(fill="x")
        tk.Label(
            r, font=font, anchor="w", justify="left", wraplength=600,
            text="พิมพ์รหัสลงทะเบียนที่ได้รับจากจังหวัด (หรือวางลิงก์ลงทะเบียน) แล้วกดปุ่มลงทะเบียน\n"
                 "Type the enrolment code from the province (or paste the link), then press Enrol.",
        ).pack(fill="x", pady=(6, 8))
        tk.Label(r, font=font, text="รหัสลงทะเบียน / code", anchor="w").pack(fill="x")
        self.code = tk.Entry(r, font=big, width=30)
        self.code.pack(fill="x")
        tk.Label(r, font=font, text="ที่อยู่เครื่องแม่ข่ายจังหวัด / hub", anchor="w").pack(fill="x", pady=(8, 0))
        self.hub = tk.Entry(r, font=font, width=40)
        self.hub.insert(0, default_hub)
        self.hub.pack(fill="x")
        self.button = tk.Button(r, font=big, text="ลงทะเบียน / Enrol", height=2, command=self._submit)
        self.button.pack(fill="x", pady=(10, 0))
        self.message = tk.Label(r, font=font, anchor="w", justify="left", wraplength=600, fg="#c62828")
        self.message.pack(fill="x", pady=(8, 0))
        self._q: queue.Queue[Callable[[], object]] = queue.Queue()
        self.root.after(50, self._drain)
        self.code.focus_set()

    def _drain(self) -> None:
        while True:
            try:
                self._q.get_nowait()()
            except queue.Empty:
                break
        self.root.after(50, self._drain)

    def _submit(self) -> None:
        hub, code = parse_enrolment(self.code.get(), self.hub.get())
        if not code or not hub:
            self.message.configure(text="กรุณาพิมพ์รหัสลงทะเบียน / please type the code")
            return
        self.button.configure(state="disabled")
        self.message.configure(text="กำลังลงทะเบียน… / enrolling…", fg="#0b3d91")

        def work() -> None:
            try:
                config = asyncio.run(enrol(hub, code, self.config_dir))
            except EnrolFailed as exc:
                text = f"{exc.message_th}\n{exc.message_en}"
                self._q.put(lambda: (self.message.configure(text=text, fg="#c62828"),
                                     self.button.configure(state="normal")))
                return
            self.result = config
            self._q.put(self.root.destroy)

        threading.Thread(target=work, name="enrol", daemon=True).start()

    def run(self) -> AgentConfig | None:
        if self.ui_map is not None:
            self.root.after(500, self._write_ui_map, self.ui_map)
        self.root.mainloop()
        return self.result

    def _write_ui_map(self, path: Path) -> None:
        widgets = {"code": self.code, "hub": self.hub, "enrol": self.button, "enrol_message": self.message}
        rects = {k: widget_rect(w) for k, w in widgets.items()}
        rects["enrol_message"].append(self.message.cget("text"))
        write_ui_map(path, rects)
        self.root.after(300, self._write_ui_map, path)

