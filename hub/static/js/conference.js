// Live conference control. Loaded only when the hub registers /api/v1/conferences.
// Calls it makes (the media feature's API; adjust here if it names them differently):
//   GET  /api/v1/conferences                      -> [{id, status, layout, sites, lecture, floor, agenda, participants}]
//   POST /api/v1/conferences                      {sites, layout} -> {id}
//   POST /api/v1/conferences/{id}/layout          {layout}
//   POST /api/v1/conferences/{id}/floor/{request}/{accept|grant|deny|revoke}
//   POST /api/v1/conferences/{id}/{mute-all|unmute-all}; POST .../lecture {on}
//   POST /api/v1/conferences/{id}/agenda/{start|pause|resume|next|extend}
//   POST /api/v1/conferences/{id}/end
//   POST /api/v1/conferences/{id}/viewer          {sdp, type} -> {sdp, type}  (program preview)
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();
  const base = "/api/v1/conferences";
  const canAct = S.canAct("operator");
  let conf = null;
  let pc = null;
  const name = (code) => T.names[code] || code;

  function render() {
    const live = document.getElementById("live-controls");
    const start = document.getElementById("start-form");
    const summary = document.getElementById("conf-summary");
    if (!conf) {
      live.hidden = true; if (start) start.hidden = false;
      summary.textContent = T.none;
      stopPreview();
      return;
    }
    live.hidden = false; if (start) start.hidden = true;
    summary.textContent = `▶ ${T.running} #${conf.id} · ${conf.layout}`;
    document.querySelectorAll(".layout-btn").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.layout === conf.layout)));
    document.getElementById("lecture-btn").setAttribute("aria-pressed", String(!!conf.lecture));
    const agenda = conf.agenda || null;
    document.getElementById("agenda-state").textContent = agenda && agenda.current
      ? `${name(agenda.current)} · ${Math.max(0, Math.round(agenda.remaining_s || 0))} s ${T.remaining}` : "—";
    const queue = (conf.floor && (conf.floor.requests || conf.floor.queue)) || [];
    document.querySelector("#floor-queue tbody").replaceChildren(...queue.map((r, i) => {
      const actions = S.el("td", { class: "actions" });
      const status = r.status || r.state;
      const verbs = status === "pending" ? ["accept", "grant", "deny"] : status === "accepted" ? ["grant", "deny"]
        : status === "granted" ? ["revoke"] : [];
      for (const verb of verbs) {
        const b = S.el("button", { type: "button", class: verb === "revoke" || verb === "deny" ? "danger-outline" : "",
          text: T[verb], disabled: !canAct, "aria-label": `${T[verb]}: ${name(r.site)}` });
        b.addEventListener("click", async () => {
          if (verb === "revoke" && !(await S.confirmAction(`${T.confirm_revoke} ${name(r.site)}`))) return;
          await S.act(b, () => S.api("POST", `${base}/${conf.id}/floor/${r.id}/${verb}`), `${T[verb]}: ${name(r.site)}`);
          refresh();
        });
        actions.append(b);
      }
      return S.el("tr", { "data-request": r.id }, S.el("td", { text: String(r.position ?? i + 1) }),
        S.el("td", { text: name(r.site) }), S.el("td", { text: T[status] || status }), actions);
    }));
    const parts = conf.participants || (conf.sites || []).map((code) => ({ site: code }));
    document.querySelector("#participants tbody").replaceChildren(...parts.map((p) => S.el("tr", {},
      S.el("td", { text: name(p.site) }), S.el("td", { text: p.joined_at ? S.fmtTime(p.joined_at) : "—" }),
      S.el("td", { class: "link-" + (p.link_status || "unknown"), text: p.link_status || "—" }),
      S.el("td", { text: p.mic_open ? "🎤 " + T.open : "🔇 " + T.muted }))));
    if (!pc) startPreview();
  }

  async function refresh() {
    try {
      const rows = await S.api("GET", base);
      conf = (rows || []).find((c) => (c.status || "live") === "live") || null;
      render();
    } catch (e) { S.say(e.message, false); }
  }

  async function startPreview() {
    const video = document.getElementById("preview");
    if (!video || !conf) return;
    const state = document.getElementById("preview-state");
    pc = new RTCPeerConnection();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.ontrack = (ev) => { video.srcObject = ev.streams[0] || new MediaStream([ev.track]); state.textContent = "● " + T.preview_live; };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((resolve) => {
        if (pc.iceGatheringState === "complete") return resolve();
        pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
        setTimeout(resolve, 2000);
      });
      const answer = await S.api("POST", `${base}/${conf.id}/viewer`, { sdp: pc.localDescription.sdp, type: pc.localDescription.type });
      await pc.setRemoteDescription(answer);
    } catch (e) { state.textContent = "✖ " + T.preview_failed + ": " + e.message; stopPreview(); }
  }
  function stopPreview() { if (pc) { pc.close(); pc = null; } }

  const startForm = document.getElementById("start-form");
  if (startForm) startForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const layout = document.getElementById("start-layout").value;
    await S.act(document.getElementById("start-conf"), () => S.api("POST", base, { sites: Object.keys(T.names), layout }), T.started);
    refresh();
  });
  document.querySelectorAll(".layout-btn").forEach((b) => b.addEventListener("click", async () => {
    await S.act(b, () => S.api("POST", `${base}/${conf.id}/layout`, { layout: b.dataset.layout }), `${T.layout_set}: ${b.dataset.layout}`);
    refresh();
  }));
  document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", async () => {
    const action = b.dataset.action;
    const body = action === "lecture" ? { on: b.getAttribute("aria-pressed") !== "true" } : undefined;
    await S.act(b, () => S.api("POST", `${base}/${conf.id}/${action}`, body), T.done);
    refresh();
  }));
  document.querySelectorAll("[data-agenda]").forEach((b) => b.addEventListener("click", async () => {
    const body = b.dataset.agenda === "extend" ? { seconds: 60 } : undefined;
    await S.act(b, () => S.api("POST", `${base}/${conf.id}/agenda/${b.dataset.agenda}`, body), T.done);
    refresh();
  }));
  document.getElementById("end-conf").addEventListener("click", async (ev) => {
    if (!(await S.confirmAction(T.confirm_end))) return;
    await S.act(ev.currentTarget, () => S.api("POST", `${base}/${conf.id}/end`), T.ended);
    refresh();
  });
  document.addEventListener("salaklang:event", (ev) => {
    const k = ev.detail.kind;
    if (k === "conference" || k.startsWith("floor") || k === "agenda") refresh();
  });
  setInterval(() => { if (conf && conf.agenda && conf.agenda.running) refresh(); }, 1000);
  refresh();
})();
