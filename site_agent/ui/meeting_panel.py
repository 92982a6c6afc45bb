"""The clerk window's meeting panel (Tk): who is in the room, the roll call, votes, the join code.

A view of :class:`site_agent.clerk.meeting.ClerkMeeting`: it redraws on each state the
meeting publishes (through the window's thread-safe ``post``) and its buttons run the
meeting's actions on the agent's loop. Its own top-level window of the clerk window, so
the main window still fits a 1024×768 screen: it comes up (on top) whenever the hub asks
something, and the clerk may close it until the next question.
"""

from __future__ import annotations

import asyncio
import functools
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol

from site_agent.clerk.meeting import ClerkMeeting, MeetingError, MeetingState, PollItem

ROWS = 6  # people rows on screen (a district's room; the protocol takes 30)


class Host(Protocol):
    """What the panel needs from the clerk window."""

    root: tk.Tk
    font: tkfont.Font
    big: tkfont.Font
    small: tkfont.Font
    loop: asyncio.AbstractEventLoop

    def post(self, fn: Callable[[], object]) -> None: ...


class MeetingPanel:
    def __init__(self, host: Host, parent: tk.Misc, meeting: ClerkMeeting, lang: Callable[[], str]) -> None:
        self.host = host
        self.meeting = meeting
        self.lang = lang
        self.frame = tk.Toplevel(parent, padx=10, pady=8)
        self.frame.title("การประชุม — ผู้เข้าประชุม ขานชื่อ ลงมติ / the meeting")
        self.frame.withdraw()
        self.frame.protocol("WM_DELETE_WINDOW", self._close)
        self.shown = False
        self._rows_shown = 1
        self._poll_id: int | None = None
        self._build()
        meeting.subscribe(lambda state: host.post(lambda: self.render(state, asked=True)))
        host.root.after(1000, self._tick)

    # --- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        f, h = self.frame, self.host
        self.title = tk.Label(f, font=h.big, anchor="w")
        self.title.grid(row=0, column=0, columnspan=4, sticky="w")
        # who is in the room
        self.people_title = tk.Label(f, font=h.font, anchor="w")
        self.people_title.grid(row=1, column=0, columnspan=4, sticky="w")
        self.names: list[tk.Entry] = []
        self.positions: list[tk.Entry] = []
        people = tk.Frame(f)
        people.grid(row=2, column=0, columnspan=2, sticky="nw")
        self.people_frame = people
        self.name_head = tk.Label(people, font=h.small, anchor="w")
        self.name_head.grid(row=0, column=0, sticky="w")
        self.position_head = tk.Label(people, font=h.small, anchor="w")
        self.position_head.grid(row=0, column=1, sticky="w")
        for _ in range(ROWS):
            name = tk.Entry(people, font=h.font, width=22)
            position = tk.Entry(people, font=h.font, width=18)
            self.names.append(name)
            self.positions.append(position)
        side = tk.Frame(f)
        side.grid(row=2, column=2, columnspan=2, sticky="nw", padx=(8, 0))
        self.add_person = tk.Button(side, font=h.font, command=self._more_rows)
        self.add_person.pack(fill="x", pady=2)
        self.confirm = tk.Button(side, font=h.big, command=self._confirm, bg="#d8ecff")
        self.confirm.pack(fill="x", pady=2)
        # roll call
        self.roll = tk.Frame(f)
        self.roll_label = tk.Label(self.roll, font=h.font, anchor="w", fg="#8a4b00")
        self.roll_label.pack(side="left")
        self.roll_button = tk.Button(self.roll, font=h.big, bg="#ffe9b0",
                                     command=lambda: self._run(self.meeting.answer_roll_call()))
        self.roll_button.pack(side="left", padx=8)
        # polls
        self.poll = tk.Frame(f)
        self.poll_question = tk.Label(self.poll, font=h.font, anchor="w", justify="left", wraplength=760)
        self.poll_question.grid(row=0, column=0, columnspan=5, sticky="w")
        self.person_var = tk.StringVar(self.host.root)
        self.person_menu = tk.OptionMenu(self.poll, self.person_var, "")
        self.person_menu.configure(font=h.font)
        self.option_buttons: list[tk.Button] = []
        for i in range(10):
            self.option_buttons.append(tk.Button(self.poll, font=h.big, bg="#e3f5e1",
                                                 command=functools.partial(self._vote, i)))
        self.results = tk.Label(f, font=h.font, anchor="w", justify="left", wraplength=760, fg="#1a5e20")
        # the confidential briefing's one-time code
        self.code = tk.Frame(f)
        self.code_label = tk.Label(self.code, font=h.font, anchor="w", fg="#c62828", justify="left", wraplength=420)
        self.code_label.pack(side="left")
        self.code_request = tk.Button(self.code, font=h.font, command=lambda: self._run(self.meeting.request_code()))
        self.code_request.pack(side="left", padx=4)
        self.code_entry = tk.Entry(self.code, font=h.big, width=8)
        self.code_entry.pack(side="left", padx=4)
        self.code_verify = tk.Button(self.code, font=h.font,
                                     command=lambda: self._run(self.meeting.verify_code(self.code_entry.get())))
        self.code_verify.pack(side="left", padx=4)
        self.answer = tk.Label(f, font=h.font, anchor="w", justify="left", wraplength=760)
        self.answer.grid(row=8, column=0, columnspan=4, sticky="w")
        self._place_rows()

    def _place_rows(self) -> None:
        for i, (name, position) in enumerate(zip(self.names, self.positions, strict=True)):
            if i < self._rows_shown:
                name.grid(row=i + 1, column=0, padx=(0, 4), pady=1)
                position.grid(row=i + 1, column=1, pady=1)
            else:
                name.grid_remove()
                position.grid_remove()

    def widgets(self) -> dict[str, tk.Widget]:
        """The panel's controls by name (the window's UI map for the tests)."""
        out: dict[str, tk.Widget] = {
            "meeting_confirm": self.confirm, "meeting_add_person": self.add_person,
            "rollcall_present": self.roll_button, "code_request": self.code_request, "code_entry": self.code_entry,
            "code_verify": self.code_verify, "person_menu": self.person_menu,
        }
        for i in range(ROWS):
            out[f"person_name_{i}"] = self.names[i]
            out[f"person_position_{i}"] = self.positions[i]
        for i, b in enumerate(self.option_buttons):
            out[f"vote_option_{i}"] = b
        return out

    # --- actions ------------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        async def go() -> None:
            try:
                await coro
            except MeetingError as exc:
                text = exc.message_th if self.lang() == "th" else exc.message_en
                self.host.post(lambda: self.answer.configure(text=text, fg="#c62828"))

        asyncio.run_coroutine_threadsafe(go(), self.host.loop)

    def _more_rows(self) -> None:
        self._rows_shown = min(ROWS, self._rows_shown + 1)
        self._place_rows()

    def _confirm(self) -> None:
        people = [(n.get(), p.get()) for n, p in zip(self.names, self.positions, strict=True)]
        self._run(self.meeting.confirm_people(people))

    def _vote(self, option: int) -> None:
        if self._poll_id is None:
            return
        item = self.meeting.state.poll(self._poll_id)
        person = self.person_var.get() or None if item is not None and item.unit == "person" else None
        self._run(self.meeting.vote(self._poll_id, option, person))

    def _close(self) -> None:
        self.frame.withdraw()
        self.shown = False

    def _tick(self) -> None:
        if self.shown:
            self.render(self.meeting.state)
        self.host.root.after(1000, self._tick)

    # --- rendering ----------------------------------------------------------------------------
    def render(self, state: MeetingState, asked: bool = False) -> None:
        """Redraw; ``asked``: the hub just said something, so the window comes up on top."""
        th = self.lang() == "th"
        active = state.conference_id is not None and (
            state.identity_asked or state.roll_call_id is not None or bool(state.polls) or state.refused is not None)
        if active and asked:
            self.frame.deiconify()
            self.frame.lift()
            self.shown = True
        elif not active and self.shown:
            self._close()
        if not active:
            return
        title = state.title or ("การประชุม" if th else "Briefing")
        self.title.configure(text=(f"การประชุม: {title}" if th else f"Briefing: {title}"))
        self._render_people(state, th)
        self._render_roll_call(state, th)
        self._render_polls(state, th)
        self._render_code(state, th)
        text = state.message(self.lang())
        self.answer.configure(text=text, fg="#1a7f37" if state.message_ok else "#c62828")

    def _render_people(self, state: MeetingState, th: bool) -> None:
        self.name_head.configure(text="ชื่อ-นามสกุล" if th else "Name")
        self.position_head.configure(text="ตำแหน่ง" if th else "Position")
        self.add_person.configure(text="+ เพิ่มคน" if th else "+ Add a person")
        self.confirm.configure(text="ยืนยันผู้เข้าประชุม" if th else "Confirm who is here")
        if state.identity_confirmed and state.people:
            names = ", ".join(n for n, _ in state.people)
            self.people_title.configure(text=(f"ผู้เข้าประชุมที่ยืนยันแล้ว: {names}" if th else f"Confirmed present: {names}"))
        else:
            self.people_title.configure(text="กรุณายืนยันผู้เข้าประชุมในห้อง (ชื่อและตำแหน่ง)" if th
                                        else "Please confirm who is in the room (name and position)")
        if state.people and not any(e.get() for e in self.names):
            for i, (name, position) in enumerate(state.people[:ROWS]):
                self.names[i].insert(0, name)
                self.positions[i].insert(0, position)
            self._rows_shown = max(self._rows_shown, min(ROWS, len(state.people)))
            self._place_rows()

    def _render_roll_call(self, state: MeetingState, th: bool) -> None:
        now = datetime.now(UTC)
        if state.roll_call_id is None or state.roll_call_deadline is None:
            self.roll.grid_remove()
            return
        self.roll.grid(row=3, column=0, columnspan=4, sticky="w", pady=(6, 0))
        left = max(0, int((state.roll_call_deadline - now).total_seconds()))
        if state.roll_call_answered:
            self.roll_label.configure(text="ขานชื่อแล้ว" if th else "Present: confirmed")
            self.roll_button.configure(state="disabled")
        elif left <= 0:
            self.roll_label.configure(text="หมดเวลาขานชื่อแล้ว" if th else "The roll call has closed")
            self.roll_button.configure(state="disabled")
        else:
            self.roll_label.configure(text=(f"ขานชื่อ: เหลือ {left} วินาที" if th else f"Roll call: {left} s left"))
            self.roll_button.configure(state="normal")
        self.roll_button.configure(text="มาประชุม (ขานชื่อ)" if th else "Present")

    def _render_polls(self, state: MeetingState, th: bool) -> None:
        open_polls = state.open_polls()
        item: PollItem | None = open_polls[0] if open_polls else None
        self._poll_id = item.poll_id if item else None
        if item is None:
            self.poll.grid_remove()
        else:
            self.poll.grid(row=4, column=0, columnspan=4, sticky="w", pady=(6, 0))
            kind = ("ลับ" if item.ballot == "secret" else "เปิดเผย") if th else item.ballot
            self.poll_question.configure(text=(f"ลงมติ ({kind}): {item.question}" if th
                                               else f"Vote ({kind} ballot): {item.question}"))
            column = 0
            if item.unit == "person":
                menu = self.person_menu["menu"]
                menu.delete(0, "end")
                for name in item.people:
                    menu.add_command(label=name, command=functools.partial(self.person_var.set, name))
                if self.person_var.get() not in item.people:
                    self.person_var.set(next((n for n in item.people if n not in item.voted), ""))
                self.person_menu.grid(row=1, column=0, padx=(0, 6))
                column = 1
            else:
                self.person_menu.grid_remove()
            may = item.open_for(self.person_var.get() or None)
            for i, b in enumerate(self.option_buttons):
                if i < len(item.options):
                    b.configure(text=item.options[i], state="normal" if may else "disabled")
                    b.grid(row=1, column=column + i, padx=3, pady=2)
                else:
                    b.grid_remove()
        closed = [q for q in state.polls if q.closed and q.counts]
        if closed:
            last = closed[-1]
            counts = last.counts or ()
            parts = "  ".join(f"{o}: {c}" for o, c in zip(last.options, counts, strict=False))
            self.results.configure(text=(f"ผลการลงมติ «{last.question}»  {parts}" if th
                                         else f"Result of «{last.question}»  {parts}"))
            self.results.grid(row=5, column=0, columnspan=4, sticky="w")
        else:
            self.results.grid_remove()

    def _render_code(self, state: MeetingState, th: bool) -> None:
        r = state.refused
        if r is None:
            self.code.grid_remove()
            return
        self.code.grid(row=6, column=0, columnspan=4, sticky="w", pady=(6, 0))
        self.code_label.configure(text=r.message_th if th else r.message_en)
        self.code_request.configure(text="ขอรหัสทางอีเมล" if th else "E-mail me a code",
                                    state="normal" if r.second_factor else "disabled")
        self.code_verify.configure(text="ยืนยันรหัส" if th else "Confirm code",
                                   state="normal" if r.second_factor else "disabled")
