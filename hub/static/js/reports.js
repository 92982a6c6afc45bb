// Reports: the monthly report's preview, downloads and e-mail, and recent briefings' attendance.
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();

  // The monthly report: preview in a frame, downloads follow the chosen month and language.
  function monthlyForm() {
    const form = document.getElementById("monthly-form");
    if (!form) return;
    const month = document.getElementById("report-month");
    const lang = document.getElementById("report-lang");
    const frame = document.getElementById("report-frame");
    const url = (fmt) => `${form.dataset.api}?month=${encodeURIComponent(month.value)}&format=${fmt}&lang=${lang.value}`;
    const links = () => form.querySelectorAll("a[data-format]").forEach((a) => { a.href = url(a.dataset.format); });
    month.addEventListener("change", links);
    lang.addEventListener("change", links);
    links();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = document.getElementById("report-error");
      err.hidden = true;
      // Ask for JSON first: a bad month comes back as a clear error instead of an error page in the frame.
      try { await S.api("GET", url("json")); } catch (e) { err.textContent = e.message; err.hidden = false; return; }
      frame.src = url("html");
      frame.hidden = false;
    });
    const send = document.getElementById("report-send");
    if (send) {
      send.addEventListener("click", async () => {
        const out = await S.act(send, () => S.api("POST", "/api/v1/reports/monthly/runs", { month: month.value }), T.sent);
        if (out) window.setTimeout(() => window.location.reload(), 1500);
      });
    }
  }

  async function loadPast() {
    const box = document.getElementById("past");
    if (!box) return;
    const body = document.querySelector("#past-list tbody");
    const today = new Date();
    const from = new Date(today.getTime() - 31 * 86400000).toISOString().slice(0, 10);
    try {
      const rows = (await S.api("GET", `/api/v1/occurrences?from=${from}&to=${today.toISOString().slice(0, 10)}`))
        .filter((o) => Date.parse(o.starts_at) <= Date.now()).reverse();
      if (!rows.length) { body.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 4, text: T.none }))); return; }
      body.replaceChildren(...rows.map((o) => {
        const cell = S.el("td", {});
        const b = S.el("button", { type: "button", text: T.show });
        b.addEventListener("click", async () => {
          const board = await S.act(b, () => S.api("GET", `/api/v1/occurrences/${o.id}/readiness`), T.show);
          if (!board) return;
          const count = (p) => board.districts.filter((d) => d.presence === p).length;
          const absent = board.districts.filter((d) => !d.joined_at).length;
          cell.replaceChildren(`✔ ${count("joined")} ${T.joined} · ◔ ${count("late")} ${T.late} · ✖ ${absent} ${T.absent}`);
        });
        cell.append(b);
        return S.el("tr", {}, S.el("td", { text: S.fmtDate(o.starts_at) }), S.el("td", { text: o.title }),
          S.el("td", { text: o.state }), cell);
      }));
    } catch (e) { S.say(e.message, false); }
  }
  monthlyForm();
  loadPast();
})();
