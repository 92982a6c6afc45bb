// District board: live updates over the hub's event WebSocket (no reload).
"use strict";
(function () {
  const tiles = document.getElementById("tiles");
  if (!tiles) return;
  const liveState = document.getElementById("live-state");
  const lang = document.body.dataset.lang || "th";
  const fmt = (epoch) => {
    if (!epoch) return "—";
    const d = new Date(epoch * 1000);
    const opts = { timeZone: "Asia/Bangkok", day: "numeric", month: "short", year: "numeric",
                   hour: "2-digit", minute: "2-digit", hour12: false };
    // th-TH formats with the Buddhist Era year, as Thai pages must.
    return d.toLocaleString(lang === "th" ? "th-TH" : "en-GB", opts);
  };
  const setText = (tile, field, text) => {
    const el = tile.querySelector(`[data-field="${field}"]`);
    if (el && el.textContent !== text) el.textContent = text;
  };
  function apply(site) {
    const tile = document.getElementById("site-" + site.code);
    if (!tile) return;
    tile.classList.toggle("online", site.online);
    tile.classList.toggle("offline", !site.online);
    const state = tile.querySelector('[data-field="state"]');
    const word = site.online ? tiles.dataset.textOnline : tiles.dataset.textOffline;
    state.textContent = (site.online ? "● " : "○ ") + word;
    tile.dataset.online = site.online ? "1" : "0";
    setText(tile, "last_seen", fmt(site.last_seen));
    setText(tile, "agent_version", site.agent_version || "—");
    const link = site.link || {};
    const rtt = link.rtt_ms_median ?? site.control_rtt_ms;
    setText(tile, "rtt", rtt == null ? "—" : rtt.toFixed(1) + " ms");
    setText(tile, "loss", link.loss_pct == null ? "—" : link.loss_pct.toFixed(1) + " %");
    // Devices and "in a briefing" come from the agent's own status report.
    const st = site.status || {};
    const words = tiles.dataset;
    const mark = (v) => (v ? "✔" : "✖");
    if (st.camera != null || st.microphone != null) {
      setText(tile, "devices", `${words.textCamera} ${mark(st.camera)} · ${words.textMic} ${mark(st.microphone)}`);
    }
    const conf = tile.querySelector('[data-field="conf"]');
    // Either the agent says so or the conference API lists it (board-extras.js sets data-in-conference).
    const inConf = site.online && (st.state === "in_conference" || tile.dataset.inConference === "1");
    if (conf) conf.hidden = !inConf;
    tile.classList.toggle("in-conf", inConf);
    const count = tiles.querySelectorAll(".tile.online").length;
    document.getElementById("online-count").textContent = String(count);
  }
  let backoff = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events/ws`);
    ws.onopen = () => { backoff = 500; liveState.textContent = "● " + liveState.dataset.textLive; };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.kind === "snapshot") msg.data.sites.forEach(apply);
      else if (msg.kind === "site") apply(msg.data);
      document.dispatchEvent(new CustomEvent("salaklang:event", { detail: msg }));
    };
    ws.onclose = () => {
      liveState.textContent = "○ " + liveState.dataset.textLost;
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }
  connect();
  tiles.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button.demo-stop, button.demo-start");
    if (!btn) return;
    const action = btn.classList.contains("demo-stop") ? "stop" : "start";
    const S = window.Salaklang;  // ui.js: shows the result or the error
    await S.act(btn, () => S.api("POST", `/api/v1/demo/agents/${btn.dataset.code}/${action}`),
                `${btn.textContent.trim()} ${btn.dataset.code}: ✔`);
  });
})();
