// The guest join page: device test, passcode/name form, lobby, in-briefing controls.
// The hub decides everything (passcode, lobby, removal); this page asks and shows.
// Media (the WebRTC join and the program) is connected in phase 2 through /me/offer.
"use strict";
(function () {
  const app = document.getElementById("guest-app");
  if (!app) return;
  const occ = app.dataset.occurrence;
  const token = app.dataset.token;
  const district = app.dataset.district;
  const csrf = app.dataset.csrf;
  const base = "/api/v1/join/" + occ;
  const $ = (id) => document.getElementById(id);
  let version = "";
  let stream = null;
  let micMuted = true;
  let polling = false;

  async function call(method, path, body) {
    const resp = await fetch(base + path, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { data = { th: "เกิดข้อผิดพลาด", en: "Unexpected answer" }; }
    return { ok: resp.ok, status: resp.status, data };
  }

  // --- camera and microphone test ---------------------------------------------------------
  async function testDevices() {
    const status = $("device-status");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    } catch (e) {
      status.textContent = "เปิดกล้องหรือไมโครโฟนไม่ได้ โปรดอนุญาตในเบราว์เซอร์ / Camera or microphone unavailable: " + e.name;
      return;
    }
    $("preview").srcObject = stream;
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    // iOS Safari and Chrome start an AudioContext suspended; this runs inside the tap.
    if (ctx.state === "suspended") await ctx.resume();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    // The meter listens to a clone of the microphone: muting (what the briefing hears) leaves
    // the clone on, so a guest still sees that the microphone works, and when they talk muted.
    const meterStream = new MediaStream([stream.getAudioTracks()[0].clone()]);
    ctx.createMediaStreamSource(meterStream).connect(analyser);
    const buf = new Uint8Array(analyser.fftSize);
    const meter = document.querySelector(".meter");
    const level = $("level");
    (function tick() {
      analyser.getByteTimeDomainData(buf);
      let peak = 0;
      for (const v of buf) peak = Math.max(peak, Math.abs(v - 128));
      const pct = Math.min(100, Math.round((peak / 128) * 100));
      level.style.width = pct + "%";
      meter.setAttribute("aria-valuenow", String(pct));
      requestAnimationFrame(tick);
    })();
    status.textContent = "กล้องและไมโครโฟนใช้งานได้ / Camera and microphone work";
    setMic(true);
  }

  function setMic(muted) {
    micMuted = muted;
    if (stream) stream.getAudioTracks().forEach((t) => { t.enabled = !muted; });
    const b = $("mute");
    b.setAttribute("aria-pressed", String(muted));
    b.innerHTML = muted ? 'เปิดไมโครโฟน <span lang="en">Unmute</span>' : 'ปิดไมโครโฟน <span lang="en">Mute</span>';
  }

  // --- the states ---------------------------------------------------------------------------
  const ENDED = {
    refused: ["ผู้ดำเนินการประชุมไม่อนุญาตให้เข้าร่วม", "The chair did not admit you"],
    removed: ["ท่านถูกเชิญออกจากการประชุมนี้ จึงเข้าร่วมด้วยลิงก์นี้อีกไม่ได้", "You were removed from this briefing and cannot rejoin with this link"],
    left: ["ท่านออกจากการประชุมแล้ว เปิดลิงก์อีกครั้งเพื่อกลับเข้าร่วม", "You left the briefing; open the link again to rejoin"],
  };

  function show(guest) {
    version = guest.version || version;
    app.dataset.status = guest.status || "";
    $("join-form").hidden = true;
    $("lobby").hidden = guest.status !== "waiting";
    $("in-briefing").hidden = guest.status !== "admitted";
    const ended = ENDED[guest.status];
    $("ended").hidden = !ended;
    if (ended) {
      $("ended").dataset.state = guest.status;
      $("ended-th").textContent = ended[0];
      $("ended-en").textContent = ended[1];
      $("devices").hidden = guest.status === "removed";
      if (stream) setMic(true);
    }
    if (guest.status === "admitted") {
      const hand = $("hand");
      hand.setAttribute("aria-pressed", String(!!guest.hand_raised));
      hand.classList.toggle("hand-up", !!guest.hand_raised);
      $("mute").disabled = !guest.may_unmute;
      $("mic-note").hidden = !!guest.may_unmute;
      if (!guest.may_unmute) setMic(true);
      $("media-status").textContent = "กำลังเชื่อมต่อภาพและเสียง… / Connecting the program…";
    }
    if (guest.status === "waiting" || guest.status === "admitted") poll();
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      for (;;) {
        const r = await call("GET", "/me?wait=20&v=" + encodeURIComponent(version));
        if (!r.ok) { await new Promise((ok) => setTimeout(ok, 2000)); continue; }
        const changed = r.data.version !== version;
        if (changed) show(r.data);
        if (r.data.status !== "waiting" && r.data.status !== "admitted") return;
      }
    } finally { polling = false; }
  }

  function error(data) {
    const el = $("join-error");
    el.hidden = false;
    el.textContent = (data.th || data.error || "เกิดข้อผิดพลาด") + (data.en ? " / " + data.en : "");
    el.dataset.code = data.code || "";
  }

  $("test-devices").addEventListener("click", testDevices);
  $("join-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const field = (id) => ($(id) ? $(id).value : "");
    $("join").disabled = true;
    const r = await call("POST", "", {
      k: token, district, passcode: field("passcode"), name: field("name"), organisation: field("organisation"),
    });
    $("join").disabled = false;
    if (!r.ok) { error(r.data); if (r.data.field && $(r.data.field)) $(r.data.field).focus(); return; }
    if ($("passcode")) $("passcode").closest("form").querySelectorAll("[for=passcode], #passcode").forEach((e) => e.remove());
    show(r.data);
  });
  $("hand").addEventListener("click", async () => {
    const raised = $("hand").getAttribute("aria-pressed") !== "true";
    const r = await call("POST", "/me/hand", { raised });
    if (r.ok) show(r.data);
  });
  $("mute").addEventListener("click", () => setMic(!micMuted));
  $("leave").addEventListener("click", async () => {
    const r = await call("POST", "/me/leave");
    if (r.ok) show(r.data);
  });

  const known = JSON.parse(app.dataset.guest || "{}");
  if (known.status && known.status !== "left" && known.status !== "refused") show(known);
})();
