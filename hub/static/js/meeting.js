// The conference page's meeting panel (issue 16): start a roll call, see who has and has not
// answered (refreshed every 2 s), and the polls with their tallies (a secret ballot's only once closed).
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();
  const base = "/api/v1/conferences";
  const name = (code) => (T.names && T.names[code]) || code;
  let cid = null;

  async function current() {
    const rows = await S.api("GET", base);
    const live = (rows || []).find((c) => c.status === "live");
    return live ? live.id : null;
  }

  function rollCall(calls) {
    const state = document.getElementById("roll-call-state");
    const body = document.querySelector("#roll-call-table tbody");
    const call = calls.length ? calls[calls.length - 1] : null;
    if (!call) { state.textContent = "ยังไม่มีการขานชื่อ · No roll call yet"; body.replaceChildren(); return; }
    state.textContent = call.open
      ? `ขานชื่อ #${call.id}: เหลือ ${Math.round(call.seconds_left)} วินาที · ${Math.round(call.seconds_left)} s left`
      : `ขานชื่อ #${call.id} ปิดแล้ว · closed: ${call.answered.length}/${call.answered.length + call.missing.length}`;
    body.replaceChildren(
      ...call.answered.map((c) => S.el("tr", { class: "answered", "data-site": c }, S.el("td", { text: name(c) }),
        S.el("td", { text: `✔ ${S.fmtTime ? S.fmtTime(call.answered_at[c]) : call.answered_at[c]}` }))),
      ...call.missing.map((c) => S.el("tr", { class: "missing", "data-site": c }, S.el("td", { text: name(c) }),
        S.el("td", { text: "✘ ยังไม่ขานชื่อ · not yet" }))));
  }

  function polls(rows) {
    const body = document.querySelector("#polls-table tbody");
    body.replaceChildren(...rows.map((p) => S.el("tr", { "data-poll": String(p.id) },
      S.el("td", { text: `${p.ballot === "secret" ? "🔒 " : ""}${p.question}` }),
      S.el("td", { text: p.counts ? p.options.map((o, i) => `${o}: ${p.counts[i]}`).join(" · ")
        : `${p.voters.length} ลงมติแล้ว · voted` }))));
  }

  async function refresh() {
    try {
      cid = await current();
      const panel = document.getElementById("meeting-panel");
      panel.hidden = cid === null;
      if (cid === null) return;
      rollCall(await S.api("GET", `${base}/${cid}/roll-calls`));
      polls(await S.api("GET", `${base}/${cid}/polls`));
    } catch (e) { S.say(e.message, false); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const start = document.getElementById("roll-call-start");
    start.disabled = !S.canAct("operator");
    start.addEventListener("click", () => S.act(start, async () => {
      const seconds = Number(document.getElementById("roll-call-seconds").value) || 60;
      await S.api("POST", `${base}/${cid}/roll-calls`, { seconds });
      await refresh();
    }, "เริ่มขานชื่อแล้ว · Roll call started"));
    refresh();
    setInterval(refresh, 2000);
  });
})();
