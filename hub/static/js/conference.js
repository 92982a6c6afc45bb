// Live conference control over the media feature's API (/api/v1/conferences, hub/conferences.py):
// start, program preview (WebRTC, receive only), layout, floor queue, microphones,
// lecture mode, agenda with its timer, participants, extend and end.
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();
  const base = "/api/v1/conferences";
  const canAct = S.canAct("operator");
  let conf = null;
  let pc = null;
  let links = {};
  // Guests (issue 15) are participants "guest-<id>": named by what they typed, with their organisation.
  const guestNames = {};
  const name = (code) => T.names[code] || guestNames[code] || code;
  const post = (path, body) => S.api("POST", `${base}/${conf.id}${path}`, body);

  function button(text, cls, label, onClick) {
    const b = S.el("button", { type: "button", class: cls || "", text, disabled: !canAct, "aria-label": label || text });
    b.addEventListener("click", () => onClick(b));
    return b;
  }

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
    for (const p of conf.participants || []) {
      if (p.kind === "guest") guestNames[p.site] = p.name_th + (p.organisation ? ` (${p.organisation})` : "");
    }
    const holder = conf.floor && conf.floor.holder;
    summary.textContent = `▶ ${T.running} #${conf.id} · ${conf.title} · ${T.layout}: ${conf.layout}`
      + (holder ? ` · ◆ ${name(holder)}` : "") + (conf.ends_at ? ` · ${T.ends} ${S.fmtTime(conf.ends_at)}` : "");
    document.getElementById("conf-live").dataset.layout = conf.layout;
    const evidence = document.getElementById("evidence-link");
    if (evidence) { evidence.href = `${base}/${conf.id}/evidence`; document.getElementById("evidence-row").hidden = false; }
    document.querySelectorAll(".layout-btn").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.layout === conf.layout)));
    document.getElementById("lecture-btn").setAttribute("aria-pressed", String(!!conf.lecture));
    const agenda = conf.agenda;
    document.getElementById("agenda-state").textContent = agenda && agenda.current
      ? `${agenda.running ? "▶" : "‖"} ${name(agenda.current)} · ${Math.max(0, Math.round(agenda.remaining_s || 0))} s ${T.remaining}`
      : agenda ? T.agenda_ready : T.agenda_none;

    const queue = (conf.floor && conf.floor.requests) || [];
    const qBody = document.querySelector("#floor-queue tbody");
    if (!queue.length) qBody.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 4, text: T.queue_empty })));
    else qBody.replaceChildren(...queue.map((r, i) => {
      const actions = S.el("td", { class: "actions" });
      const verbs = r.status === "pending" ? ["accept", "grant", "deny"] : r.status === "accepted" ? ["grant", "deny"]
        : r.status === "granted" ? ["revoke"] : [];
      for (const verb of verbs) {
        actions.append(button(T[verb], verb === "revoke" || verb === "deny" ? "danger-outline" : verb === "grant" ? "primary" : "",
          `${T[verb]}: ${name(r.site)}`, async (b) => {
            if (verb === "revoke" && !(await S.confirmAction(`${T.confirm_revoke}\n${name(r.site)}`))) return;
            await S.act(b, () => post(`/floor/${r.id}/${verb}`), `${T[verb]}: ${name(r.site)} ✔`);
            refresh();
          }));
      }
      const word = { pending: "… " + T.pending, accepted: "☰ " + T.accepted, granted: "◆ " + T.granted }[r.status] || r.status;
      return S.el("tr", { "data-request": r.id, "data-status": r.status }, S.el("td", { text: String(r.position ?? i + 1) }),
        S.el("td", { text: name(r.site) }), S.el("td", { text: word }), actions);
    }));

    // What the district actually gets (frames arriving at the hub), from the summary's media_state.
    const mediaText = (m) => {
      if (!m) return "";
      const label = S.lang === "th" ? m.label_th : m.label_en;
      const since = m.since && m.state !== "in_program" ? " " + S.fmtTime(m.since) : "";
      const attempt = m.state === "reconnecting" && m.attempt ? ` #${m.attempt}` : "";
      return ` · ${label}${since}${attempt}`;
    };
    document.querySelector("#participants tbody").replaceChildren(...(conf.participants || []).map((p) => {
      const link = links[p.site] && links[p.site].status;
      const talking = p.heard && p.level_dbfs != null && p.level_dbfs > -45;
      const actions = S.el("td", { class: "actions" });
      if (holder !== p.site) {
        actions.append(button(T.give_floor, "", `${T.give_floor}: ${name(p.site)}`, async (b) => {
          await S.act(b, () => post("/floor", { site: p.site }), `${T.give_floor}: ${name(p.site)} ✔`); refresh();
        }));
      }
      actions.append(button(p.mic_open ? T.mute : T.unmute, "", `${p.mic_open ? T.mute : T.unmute}: ${name(p.site)}`, async (b) => {
        await S.act(b, () => post(`/sites/${p.site}/${p.mic_open ? "mute" : "unmute"}`), T.done); refresh();
      }));
      if (p.kind === "guest" && conf.occurrence_id) {
        // Removed through the guests room: the same link cannot bring the guest back.
        const gid = p.site.slice("guest-".length);
        actions.append(button("เชิญออก / Remove", "danger", `เชิญออก / Remove: ${name(p.site)}`, async (b) => {
          await S.act(b, () => S.api("POST", `/api/v1/occurrences/${conf.occurrence_id}/guests/${gid}/remove`), T.done); refresh();
        }));
      }
      return S.el("tr", { "data-site": p.site },
        S.el("td", { "data-kind": p.kind || "site", text: (p.online ? "● " : "○ ") + name(p.site) + (holder === p.site ? " ◆" : "")
          + (p.kind === "guest" ? " · ผู้เข้าร่วมทางเบราว์เซอร์ / guest" : p.kind === "browser" ? " · เบราว์เซอร์ / browser" : "") }),
        S.el("td", { "data-media": p.media_state ? p.media_state.state : "", text: (p.joined_at ? S.fmtTime(p.joined_at) : p.error ? "✖ " + p.error : "—") + mediaText(p.media_state) }),
        S.el("td", { class: "link-" + (link || "unknown"), text: `${{ green: "✓", amber: "!", red: "✕", down: "✕" }[link] || "?"} ${T["status_" + (link || "unknown")] || link}` }),
        S.el("td", { text: (p.mic_open ? "◉ " + T.open : "✕ " + T.muted) + (talking ? " · ◉ " + T.talking : "") }),
        actions);
    }));
    // Every join and leave of this conference with its reasons (hub.attendance intervals, from the API).
    document.querySelector("#conf-intervals tbody").replaceChildren(...(conf.attendance || []).map((a) => {
      const opened = S.lang === "th" ? a.opened_label_th : a.opened_label_en;
      const closed = a.closed_reason ? (S.lang === "th" ? a.closed_label_th : a.closed_label_en) : "—";
      return S.el("tr", { "data-site": a.site, "data-closed": a.closed_reason || "" },
        S.el("td", { text: name(a.site) }), S.el("td", { text: S.fmtTime(a.started_at) }),
        S.el("td", { text: a.ended_at ? S.fmtTime(a.ended_at) : "● " + T.still_in }),
        S.el("td", { text: opened }), S.el("td", { text: closed }));
    }));
    if (!pc) startPreview();
  }

  async function refresh() {
    try {
      const rows = await S.api("GET", base);
      const current = (rows || []).find((c) => c.status === "live");
      conf = current ? await S.api("GET", `${base}/${current.id}`) : null;
      render();
    } catch (e) { S.say(e.message, false); }
  }

  // --- program preview: a receive-only WebRTC peer of the media worker --------------------------
  async function startPreview() {
    const video = document.getElementById("preview");
    if (!video || !conf) return;
    const state = document.getElementById("preview-state");
    const mine = new RTCPeerConnection();
    pc = mine;
    mine.addTransceiver("video", { direction: "recvonly" });
    mine.addTransceiver("audio", { direction: "recvonly" });
    mine.ontrack = (ev) => {
      if (ev.track.kind !== "video") return;
      video.srcObject = new MediaStream([ev.track]);
      state.textContent = "● " + T.preview_live;
    };
    try {
      await mine.setLocalDescription(await mine.createOffer());
      await new Promise((resolve) => {
        if (mine.iceGatheringState === "complete") { resolve(); return; }
        mine.addEventListener("icegatheringstatechange", () => { if (mine.iceGatheringState === "complete") resolve(); });
        setTimeout(resolve, 2000);
      });
      const answer = await S.api("POST", `${base}/${conf.id}/viewer`, { sdp: mine.localDescription.sdp, type: mine.localDescription.type });
      if (pc !== mine) return;
      if (!video.srcObject) state.textContent = "… " + T.preview_connecting;
      await mine.setRemoteDescription(answer);
    } catch (e) {
      state.textContent = "✖ " + T.preview_failed + ": " + e.message;
      if (pc === mine) {
        stopPreview();
        setTimeout(() => { if (conf && !pc) startPreview(); }, 2000);  // the worker may still be starting
      }
    }
  }
  function stopPreview() {
    if (pc) { pc.close(); pc = null; }
    const video = document.getElementById("preview");
    if (video) video.srcObject = null;
  }

  const startForm = document.getElementById("start-form");
  if (startForm) startForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const layout = document.getElementById("start-layout").value;
    await S.act(document.getElementById("start-conf"), () => S.api("POST", base, { sites: Object.keys(T.names), layout }), T.started);
    refresh();
  });
  document.querySelectorAll(".layout-btn").forEach((b) => b.addEventListener("click", async () => {
    await S.act(b, () => post("/layout", { layout: b.dataset.layout }), `${T.layout_set}: ${b.dataset.layout}`);
    refresh();
  }));
  document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", async () => {
    const action = b.dataset.action;
    const body = action === "lecture" ? { on: b.getAttribute("aria-pressed") !== "true" }
      : action === "extend" ? { minutes: 15 } : undefined;
    await S.act(b, () => post(`/${action}`, body), T.done);
    refresh();
  }));
  document.getElementById("agenda-set").addEventListener("click", async (ev) => {
    const minutes = Number(document.getElementById("agenda-minutes").value) || 2;
    const items = (conf.participants || []).map((p) => ({ site: p.site, minutes }));
    await S.act(ev.currentTarget, () => post("/agenda", { items }), T.agenda_saved);
    refresh();
  });
  document.querySelectorAll("[data-agenda]").forEach((b) => b.addEventListener("click", async () => {
    const body = b.dataset.agenda === "extend" ? { seconds: 60 } : undefined;
    await S.act(b, () => post(`/agenda/${b.dataset.agenda}`, body), T.done);
    refresh();
  }));
  document.getElementById("end-conf").addEventListener("click", async (ev) => {
    if (!(await S.confirmAction(T.confirm_end))) return;
    await S.act(ev.currentTarget, () => post("/end"), T.ended);
    refresh();
  });

  let pending = null;  // coalesce bursts of events into one refresh
  document.addEventListener("salaklang:event", (ev) => {
    const k = ev.detail.kind;
    if (k === "link") links[ev.detail.data.site] = ev.detail.data;
    if (k === "conference" || k === "conference.media" || (k === "conference.levels" && conf)) {
      clearTimeout(pending); pending = setTimeout(refresh, 150);
    }
  });
  setInterval(() => { if (conf && conf.agenda && conf.agenda.running) refresh(); }, 1000);
  S.api("GET", "/ui/board.json").then((x) => { links = x.links || {}; }).catch(() => {}).finally(refresh);
})();
