// Reports: recent briefings' attendance (the monthly reports come with the reports feature).
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();

  async function loadPast() {
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
  loadPast();
})();
