// Reports: the reports feature's list with downloads, and recent briefings' attendance.
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();

  async function loadReports() {
    const box = document.getElementById("reports");
    if (!box || box.dataset.enabled !== "1") return;
    const body = document.querySelector("#report-list tbody");
    try {
      const data = await S.api("GET", "/api/v1/reports");
      const rows = Array.isArray(data) ? data : (data.reports || []);
      if (!rows.length) { body.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 3, text: T.no_reports }))); return; }
      body.replaceChildren(...rows.map((r) => {
        const links = S.el("td", { class: "actions" });
        for (const [fmt, url] of Object.entries(r.downloads || r.formats || {})) {
          links.append(S.el("a", { class: "button", href: url, download: "", text: "⬇ " + fmt.toUpperCase() }));
        }
        return S.el("tr", {}, S.el("td", { text: r.title || r.name || r.kind || "" }),
          S.el("td", { text: r.period || r.month || "" }), links);
      }));
    } catch (e) { S.say(e.message, false); }
  }

  async function loadPast() {
    const box = document.getElementById("past");
    if (!box || box.dataset.enabled !== "1") return;
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
  loadReports();
  loadPast();
})();
