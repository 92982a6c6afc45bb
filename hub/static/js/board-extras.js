// Board additions: province map (SVG from inventory coordinates), link colour,
// readiness before a briefing, and open alarms with acknowledge.
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();
  const SVGNS = "http://www.w3.org/2000/svg";
  const state = {};  // code -> {online, link, name_th, name_en, kind}
  const svg = document.getElementById("map");

  const linkWord = (status) => T["status_" + (status || "unknown")] || T.status_unknown;
  const GLYPH = { green: "✓", amber: "!", red: "✕", down: "✕", unknown: "?" };

  function tileOf(code) { return document.getElementById("site-" + code); }

  function setLink(code, link) {
    const s = state[code] = Object.assign(state[code] || {}, { link });
    const tile = tileOf(code);
    const status = (link && link.status) || "unknown";
    if (tile) {
      const badge = tile.querySelector('[data-field="link_status"]');
      const glyph = GLYPH[status] || "?";
      badge.dataset.status = status;
      badge.textContent = `${glyph} ${linkWord(status)}`;
      const probe = link && link.probe;
      if (probe && probe.rtt_ms_median != null) {
        tile.querySelector('[data-field="rtt"]').textContent = probe.rtt_ms_median.toFixed(1) + " ms";
      }
      if (probe && probe.loss_pct != null) {
        tile.querySelector('[data-field="loss"]').textContent = probe.loss_pct.toFixed(1) + " %";
      }
    }
    drawPoint(code, s);
  }

  function setReadiness(board) {
    const summary = document.getElementById("readiness-summary");
    if (!board || !board.districts) { summary.hidden = true; return; }
    let ready = 0;
    for (const row of board.districts) {
      const tile = tileOf(row.code);
      if (!tile) continue;
      const badge = tile.querySelector('[data-field="readiness"]');
      if (row.ready === true) { ready++; badge.textContent = "✔ " + T.ready; badge.dataset.ready = "1"; }
      else if (row.ready === false) {
        badge.textContent = "✖ " + T.not_ready + (row.reasons && row.reasons.length ? ": " + row.reasons.join(", ") : "");
        badge.dataset.ready = "0";
      } else { badge.textContent = "… " + T.not_checked; badge.dataset.ready = ""; }
      badge.hidden = false;
    }
    const occ = board.occurrence || {};
    summary.hidden = false;
    summary.textContent = `${occ.title || ""} ${S.fmtDate(occ.starts_at)} · ${ready}/${board.districts.length} ${T.ready_count}`;
  }

  // --- map --------------------------------------------------------------------------------
  let project = null;
  function setupMap(sites) {
    const pts = sites.filter((s) => s.latitude != null && s.longitude != null);
    if (!pts.length || !svg) return;
    const lats = pts.map((s) => s.latitude), lons = pts.map((s) => s.longitude);
    const minLat = Math.min(...lats), maxLat = Math.max(...lats);
    const minLon = Math.min(...lons), maxLon = Math.max(...lons);
    const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);  // keep distances honest
    const W = 400, H = 360, pad = 34;
    const sx = (W - 2 * pad) / Math.max(1e-6, (maxLon - minLon) * k);
    const sy = (H - 2 * pad) / Math.max(1e-6, maxLat - minLat);
    const scale = Math.min(sx, sy);
    project = (lat, lon) => [pad + (lon - minLon) * k * scale, H - pad - (lat - minLat) * scale];
    const hub = pts.find((s) => s.kind === "hub");
    const spokes = document.createElementNS(SVGNS, "g");
    spokes.setAttribute("class", "spokes");
    spokes.setAttribute("aria-hidden", "true");
    svg.append(spokes);
    for (const s of pts) {
      state[s.code] = Object.assign(state[s.code] || {}, { kind: s.kind, name_th: s.name_th, name_en: s.name_en,
        online: s.kind === "hub" ? true : s.online, lat: s.latitude, lon: s.longitude });
      if (hub && s.kind !== "hub") {
        const [x1, y1] = project(hub.latitude, hub.longitude), [x2, y2] = project(s.latitude, s.longitude);
        const line = document.createElementNS(SVGNS, "line");
        Object.entries({ x1, y1, x2, y2 }).forEach(([a, v]) => line.setAttribute(a, v.toFixed(1)));
        spokes.append(line);
      }
      drawPoint(s.code, state[s.code]);
    }
  }

  function drawPoint(code, s) {
    if (!project || !svg || s.lat == null) return;
    let g = svg.querySelector(`[data-code="${code}"]`);
    const [x, y] = project(s.lat, s.lon);
    if (!g) {
      g = document.createElementNS(SVGNS, "a");
      g.setAttribute("data-code", code);
      if (s.kind !== "hub") g.setAttribute("href", "/districts/" + code);
      const shape = document.createElementNS(SVGNS, s.kind === "hub" ? "rect" : "circle");
      if (s.kind === "hub") {
        shape.setAttribute("x", (x - 9).toFixed(1)); shape.setAttribute("y", (y - 9).toFixed(1));
        shape.setAttribute("width", 18); shape.setAttribute("height", 18);
      } else {
        shape.setAttribute("cx", x.toFixed(1)); shape.setAttribute("cy", y.toFixed(1)); shape.setAttribute("r", 9);
      }
      const glyph = document.createElementNS(SVGNS, "text");
      glyph.setAttribute("x", x.toFixed(1)); glyph.setAttribute("y", (y + 4).toFixed(1));
      glyph.setAttribute("class", "glyph"); glyph.setAttribute("aria-hidden", "true");
      const label = document.createElementNS(SVGNS, "text");
      label.setAttribute("x", (x + 12).toFixed(1)); label.setAttribute("y", (y + 4).toFixed(1));
      label.setAttribute("class", "label"); label.setAttribute("aria-hidden", "true");
      label.textContent = S.lang === "th" ? s.name_th : s.name_en;
      const title = document.createElementNS(SVGNS, "title");
      g.append(title, shape, glyph, label);
      svg.append(g);
    }
    const status = s.kind === "hub" ? "hub" : !s.online ? "offline" : ((s.link && s.link.status) || "unknown");
    g.setAttribute("class", "pt pt-" + status);
    const name = s.kind === "hub" ? T.hub : (S.lang === "th" ? s.name_th : s.name_en);
    const word = status === "offline" ? document.getElementById("tiles").dataset.textOffline
      : status === "hub" ? "" : linkWord(status);
    const text = word ? `${name}: ${word}` : name;
    g.querySelector("title").textContent = text;
    g.setAttribute("aria-label", s.kind === "hub" ? text : `${text}. ${T.open_district}`);
    g.querySelector(".glyph").textContent = status === "offline" ? "○" : status === "hub" ? "★" : (GLYPH[status] || "?");
  }

  // --- alarms -------------------------------------------------------------------------------
  const alarmBox = document.getElementById("alarms");
  const alarms = new Map();
  function renderAlarms() {
    if (!alarmBox) return;
    const list = document.getElementById("alarm-list");
    const canAck = alarmBox.dataset.canAck === "1";
    const open = [...alarms.values()].filter((a) => !a.cleared_at || !a.acknowledged_at)
      .sort((a, b) => (!!a.acknowledged_at - !!b.acknowledged_at) || (b.severity === "critical") - (a.severity === "critical")
        || String(b.raised_at).localeCompare(String(a.raised_at)));
    list.replaceChildren(...open.slice(0, 20).map((a) => {
      const msg = S.lang === "th" ? a.message_th : a.message_en;
      const sev = a.severity === "critical" ? "✖ " + T.critical : "⚠ " + T.warning;
      const li = S.el("li", { class: "alarm " + (a.severity || "warning") + (a.acknowledged_at ? " acked" : ""), "data-id": a.id },
        S.el("span", { class: "sev", text: sev }),
        S.el("span", { class: "msg", text: msg + (a.cleared_at ? ` (${T.cleared})` : "") }),
        S.el("span", { class: "when", text: S.fmtDate(a.raised_at) }));
      if (a.acknowledged_at) {
        li.append(S.el("span", { class: "by", text: `${T.acked_by} ${a.acknowledged_by} · ${S.fmtDate(a.acknowledged_at)}` }));
      } else if (canAck) {
        const b = S.el("button", { type: "button", class: "ack", text: T.ack, "aria-label": `${T.ack}: ${msg}` });
        b.addEventListener("click", () => S.act(b, async () => {
          const data = await S.api("POST", `/api/v1/alarms/${a.id}/ack`);
          alarms.set(data.id, data); renderAlarms();
        }, T.acked));
        li.append(b);
      }
      return li;
    }));
    const unacked = open.filter((a) => !a.acknowledged_at).length;
    document.getElementById("alarm-count").textContent = String(unacked);
    document.getElementById("alarm-none").hidden = open.length > 0;
    alarmBox.classList.toggle("has-open", unacked > 0);
  }
  async function loadAlarms() {
    if (!alarmBox) return;
    try {
      const rows = await S.api("GET", "/api/v1/alarms?open=1");
      alarms.clear();
      rows.forEach((a) => alarms.set(a.id, a));
      renderAlarms();
    } catch (e) { S.say(e.message, false); }
  }

  // --- conferences: who is in one, who is talking -------------------------------------------
  function markConference(participants, holder) {
    document.querySelectorAll("#tiles > li.tile").forEach((tile) => {
      const inConf = participants.has(tile.dataset.code);
      tile.dataset.inConference = inConf ? "1" : "0";
      const badge = tile.querySelector('[data-field="conf"]');
      badge.hidden = !(inConf && tile.dataset.online === "1");
      tile.classList.toggle("in-conf", !badge.hidden);
      if (!inConf) tile.querySelector('[data-field="talking"]').hidden = true;
      if (holder !== undefined) tile.classList.toggle("has-floor", holder === tile.dataset.code);
    });
  }
  let confTimer = null;
  async function loadConferences() {
    try {
      const rows = await S.api("GET", "/api/v1/conferences");
      const live = rows.filter((c) => c.status === "live");
      const sites = new Set(live.flatMap((c) => c.sites || []));
      markConference(sites, live.length ? (live[0].floor || {}).holder || null : null);
      // A district in from a browser with its district link (issue 15) is the district, marked "browser".
      const browser = new Set(live.flatMap((c) => (c.participants || [])
        .filter((p) => p.kind === "browser" && p.online).map((p) => p.site)));
      document.querySelectorAll('.tile [data-field="browser"]').forEach((b) => {
        b.hidden = !browser.has(b.closest(".tile").dataset.code);
      });
    } catch (e) { S.say(e.message, false); }
  }
  function setLevels(levels, loudest) {
    for (const [code, dbfs] of Object.entries(levels || {})) {
      const tile = tileOf(code);
      if (!tile) continue;
      tile.querySelector('[data-field="talking"]').hidden = !(dbfs != null && dbfs > -45 && code === loudest);
    }
  }

  // --- live ---------------------------------------------------------------------------------
  document.addEventListener("salaklang:event", (ev) => {
    const msg = ev.detail;
    if (msg.kind === "snapshot") {
      msg.data.sites.forEach((s) => { if (state[s.code]) { state[s.code].online = s.kind === "hub" || s.online; drawPoint(s.code, state[s.code]); } });
      loadAlarms();  // after a reconnect, re-read what we may have missed
    } else if (msg.kind === "site") {
      const s = msg.data;
      if (state[s.code]) { state[s.code].online = s.kind === "hub" || s.online; drawPoint(s.code, state[s.code]); }
    } else if (msg.kind === "link") {
      setLink(msg.data.site || msg.data.code, msg.data);
    } else if (msg.kind === "alarm") {
      alarms.set(msg.data.id, msg.data); renderAlarms();
    } else if (msg.kind === "readiness") {
      setReadiness(msg.data);
    } else if (msg.kind === "conference") {
      clearTimeout(confTimer); confTimer = setTimeout(loadConferences, 200);
    } else if (msg.kind === "conference.levels") {
      setLevels(msg.data.levels, msg.data.loudest);
    }
  });

  async function init() {
    try {
      const [sites, extras] = await Promise.all([
        S.api("GET", "/api/v1/sites?include_hub=1"), S.api("GET", "/ui/board.json")]);
      setupMap(sites);
      for (const [code, link] of Object.entries(extras.links || {})) setLink(code, link);
      setReadiness(extras.readiness);
    } catch (e) { S.say(e.message, false); }
    loadAlarms();
    loadConferences();
  }
  init();

})();
