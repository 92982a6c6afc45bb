// District page: SmokePing-style link history (median + spread + loss) drawn in SVG,
// live router/probe figures, and link events.
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();
  const box = document.getElementById("history");
  const code = box && box.dataset.code;
  const SVGNS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("chart");
  const SPAN = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

  function node(tag, attrs, text) {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, typeof v === "number" ? v.toFixed(1) : v);
    if (text !== undefined) n.textContent = text;
    return n;
  }
  const lossClass = (pct) => (pct == null ? "nodata" : pct === 0 ? "loss0" : pct < 5 ? "loss1" : "loss2");

  function draw(data, range) {
    const W = 900, H = 300, L = 56, R = 12, top = 12, plotH = 220, lossTop = 246, lossH = 30;
    const end = Date.now() / 1000, start = end - SPAN[range];
    const x = (t) => L + ((t - start) / (end - start)) * (W - L - R);
    const buckets = data.buckets || [];
    const highs = buckets.map((b) => b.rtt_max_ms ?? b.rtt_p95_ms ?? b.rtt_median_ms).filter((v) => v != null);
    const ymax = Math.max(5, ...highs) * 1.15;
    const y = (v) => top + plotH - (v / ymax) * plotH;
    const out = [];
    // grid and y labels
    for (let i = 0; i <= 4; i++) {
      const v = (ymax / 4) * i;
      out.push(node("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      out.push(node("text", { x: L - 6, y: y(v) + 4, class: "ylabel" }, v.toFixed(v < 10 ? 1 : 0) + " ms"));
    }
    // x labels
    for (let i = 0; i <= 6; i++) {
      const t = start + ((end - start) / 6) * i;
      const label = range === "24h" ? S.fmtTime(t * 1000) : S.fmtDate(t, false);
      out.push(node("text", { x: x(t), y: H - 4, class: i === 6 ? "xlabel last" : "xlabel" }, label));
    }
    out.push(node("text", { x: 4, y: lossTop + 18, class: "ylabel-left" }, T.loss));
    for (const b of buckets) {
      const t0 = Date.parse(b.start) / 1000;
      const x0 = x(t0), x1 = Math.max(x0 + 1, x(t0 + b.seconds) - 0.5);
      // The "smoke": min–max faint, 5th–95th percentile darker, as SmokePing shades its spread.
      if (b.rtt_min_ms != null && b.rtt_max_ms != null) {
        out.push(node("rect", { x: x0, width: x1 - x0, y: y(b.rtt_max_ms), height: Math.max(1, y(b.rtt_min_ms) - y(b.rtt_max_ms)), class: "smoke-outer" }));
      }
      if (b.rtt_p5_ms != null && b.rtt_p95_ms != null) {
        out.push(node("rect", { x: x0, width: x1 - x0, y: y(b.rtt_p95_ms), height: Math.max(1, y(b.rtt_p5_ms) - y(b.rtt_p95_ms)), class: "smoke" }));
      }
      if (b.rtt_median_ms != null) {
        const m = node("line", { x1: x0, x2: x1, y1: y(b.rtt_median_ms), y2: y(b.rtt_median_ms), class: "median " + lossClass(b.loss_pct) });
        m.append(node("title", {}, `${S.fmtDate(t0)} · ${T.rtt} ${b.rtt_median_ms.toFixed(1)} ms · ${T.loss} ${(b.loss_pct ?? 0).toFixed(1)} %`));
        out.push(m);
      }
      if (b.loss_pct) {
        const h = Math.max(2, (Math.min(100, b.loss_pct) / 100) * lossH);
        out.push(node("rect", { x: x0, width: x1 - x0, y: lossTop + lossH - h, height: h, class: "lossbar " + lossClass(b.loss_pct) }));
      }
    }
    out.push(node("line", { x1: L, x2: W - R, y1: lossTop + lossH, y2: lossTop + lossH, class: "axis" }));
    if (!buckets.length) out.push(node("text", { x: W / 2, y: top + plotH / 2, class: "nodata-text" }, T.no_data));
    svg.replaceChildren(...out);
    svg.dataset.buckets = String(buckets.length);
  }

  async function load(range) {
    document.querySelectorAll("[data-range]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.range === range)));
    try {
      draw(await S.api("GET", `/api/v1/sites/${code}/link/history?range=${range}`), range);
    } catch (e) { S.say(e.message, false); }
  }

  function kv(dl, pairs) {
    dl.replaceChildren(...pairs.flatMap(([k, v]) => [S.el("dt", { text: k }), S.el("dd", { text: v })]));
  }
  async function loadLive() {
    const dl = document.getElementById("live-link");
    try {
      const d = await S.api("GET", `/api/v1/sites/${code}/link`);
      const p = d.probe || {}, n = d.snmp || d.hub_snmp || {};
      const num = (v, unit) => (v == null ? "—" : `${Number(v).toFixed(1)} ${unit}`);
      kv(dl, [
        [T.status, `${{ green: "✓", amber: "!", red: "✕", down: "✕" }[d.status] || "?"} ${T["status_" + d.status] || d.status}`],
        [T.rtt, num(p.rtt_ms_median, "ms")], [T.jitter, num(p.jitter_ms, "ms")],
        [T.loss, p.loss_pct == null ? "—" : `${p.loss_pct.toFixed(1)} % (Tmax ${d.tmax_ms} ms)`],
        [T.measured, p.measured_at ? S.fmtDate(p.measured_at) : "—"],
        // The media session's own figures, to compare with the probes during a briefing.
        [T.webrtc, d.webrtc ? `${num(d.webrtc.rtt_ms_median, "ms")} · ${T.jitter} ${num(d.webrtc.jitter_ms, "ms")}`
          + ` · ${T.loss} ${d.webrtc.loss_pct == null ? "—" : d.webrtc.loss_pct.toFixed(1) + " %"}` : "—"],
        [T.snmp, n.state ? `${n.state}${n.detail ? " — " + n.detail : ""}` : "—"],
        [T.oper, n.oper_status_name || "—"],
        [T.util_down, n.util_down_pct == null ? "—" : `${n.util_down_pct.toFixed(1)} % / ${d.plan_down_mbps} Mbps`],
        [T.util_up, n.util_up_pct == null ? "—" : `${n.util_up_pct.toFixed(1)} % / ${d.plan_up_mbps} Mbps`],
        [T.uptime, n.sys_uptime == null ? "—" : `${(n.sys_uptime / 8640000).toFixed(1)} d`],
      ]);
    } catch (e) { kv(dl, [["✖", e.message]]); }
  }

  async function loadEvents() {
    const table = document.getElementById("events");
    if (!table) return;
    try {
      const rows = await S.api("GET", `/api/v1/sites/${code}/events?limit=50`);
      const body = table.querySelector("tbody");
      if (!rows.length) { body.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 3, text: T.none }))); return; }
      body.replaceChildren(...rows.map((r) => S.el("tr", {}, S.el("td", { text: S.fmtDate(r.at) }),
        S.el("td", { text: T["event_" + r.kind] || r.kind }),
        S.el("td", { text: Object.entries(r.detail || {})
          .map(([k, v]) => `${k}: ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : v}`).join(" · ") }))));
    } catch (e) { S.say(e.message, false); }
  }

  if (box) {
    let range = "24h";
    document.querySelectorAll("[data-range]").forEach((b) => b.addEventListener("click", () => { range = b.dataset.range; load(range); }));
    load(range);
    loadLive();
    document.addEventListener("salaklang:event", (ev) => {
      const d = ev.detail.data || {};
      if (ev.detail.kind === "link" && (d.site === code || d.code === code)) loadLive();
      if (ev.detail.kind === "link_event" && d.site === code) loadEvents();
    });
    setInterval(() => load(range), 60000);
  }
  loadEvents();
})();
