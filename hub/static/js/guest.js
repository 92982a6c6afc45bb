// The guest join page: device test, passcode/name form, lobby, in-briefing controls.
// The hub decides everything (passcode, lobby, removal); this page asks and shows.
// Media: once admitted, one WebRTC peer of the hub's MCU (/me/offer): the program comes back
// as H.264 + Opus, the camera and microphone go out (H.264 first, what the MCU decodes), capped
// to the send profile the hub names (as it tells an agent). window.salaklangProgram counts the
// program's decoded frames (requestVideoFrameCallback) for the page's own checks and tests, and
// program.phases the join's steps in ms since the link was opened (performance.now(), whose
// origin is the navigation): where a slow join spends its time, read by tests and the bench.
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
  let connecting = false;
  let view = null;  // the hub's view of this peer: floor, microphone, send profile
  const program = (window.salaklangProgram = { frames: 0, firstFrameMs: null, audio: "", connected: false, phases: {} });
  // The first of each step only: a reconnect does not move the join's figures.
  const mark = (phase) => { if (!(phase in program.phases)) program.phases[phase] = Math.round(performance.now()); };
  mark("script");

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

  // --- camera and microphone ---------------------------------------------------------------
  // One getUserMedia for the whole page (the test, the preview and what the peer sends), started
  // at the first of: the test button, the Join tap. The join does not wait for it: the peer is
  // offered with empty senders and the tracks go in with replaceTrack once the camera is open
  // (no renegotiation), so a permission prompt or a slow camera delays only the guest's own
  // picture, not the program.
  let streamPromise = null;
  function ensureStream() {
    if (!streamPromise) {
      streamPromise = navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then((s) => {
        stream = s;
        $("preview").srcObject = s;
        setMic(micMuted);  // a new microphone starts as the hub's mix has it: closed until allowed
        mark("media");
        attachStream();
        return s;
      }, (e) => {
        streamPromise = null;  // a later tap may be allowed (permission given meanwhile)
        throw e;
      });
    }
    return streamPromise;
  }

  async function testDevices() {
    const status = $("device-status");
    try {
      await ensureStream();
    } catch (e) {
      status.textContent = "เปิดกล้องหรือไมโครโฟนไม่ได้ โปรดอนุญาตในเบราว์เซอร์ / Camera or microphone unavailable: " + e.name;
      return;
    }
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    // iOS Safari and Chrome start an AudioContext suspended; this runs inside the tap.
    if (ctx.state === "suspended") await ctx.resume();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    // The meter listens to a clone of the microphone: muting (what the briefing hears) leaves
    // the clone on, so a guest still sees that the microphone works, and when they talk muted.
    const meterTrack = stream.getAudioTracks()[0].clone();
    meterTrack.enabled = true;  // a clone copies the muted state
    const meterStream = new MediaStream([meterTrack]);
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

  // --- the program: one WebRTC peer of the hub's MCU ----------------------------------------
  // side: { peer, video, audio, offered } — the peer, its two transceivers (always sendrecv:
  // the camera may come later) and the promise of its offer with candidates gathered.
  let side = null;   // the peer in use (offered to the hub, or connected)
  let spare = null;  // a peer made at the Join tap, while the hub checks the passcode
  let profileNow = null;  // the send profile the hub last named

  function preferH264(transceiver, kind) {
    if (!transceiver.setCodecPreferences || !window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities) return;
    const caps = RTCRtpReceiver.getCapabilities(kind);
    if (!caps) return;
    const rank = (c) => (c.mimeType === "video/H264" && /profile-level-id=42e01f/.test(c.sdpFmtpLine || "")
      && /packetization-mode=1/.test(c.sdpFmtpLine || "") ? 0 : c.mimeType === "video/H264" ? 1 : 2);
    transceiver.setCodecPreferences(caps.codecs.slice().sort((a, b) => rank(a) - rank(b)));
  }

  // The hub's peer (aiortc) takes no trickled candidates, so the offer carries them. It goes
  // once gathering is complete, or GATHER_AFTER_FIRST_MS after the first candidate, or at
  // GATHER_MAX_MS with whatever there is. Chromium gives its UDP host candidates of every
  // interface within a few ms of each other, then TCP ones ~100 ms later that the hub drops
  // (hub/guests/sdp.py); a candidate left out costs nothing: the hub answers the browser's
  // checks from an address it was not told about as a peer-reflexive candidate.
  const GATHER_AFTER_FIRST_MS = 100;
  const GATHER_MAX_MS = 3000;
  function gathered(peer) {
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((ok) => {
      let timer = setTimeout(finish, GATHER_MAX_MS);
      function finish() {
        clearTimeout(timer);
        peer.removeEventListener("icegatheringstatechange", onState);
        peer.removeEventListener("icecandidate", onCandidate);
        ok();
      }
      function onState() { if (peer.iceGatheringState === "complete") finish(); }
      function onCandidate(ev) {
        if (!ev.candidate) { finish(); return; }
        peer.removeEventListener("icecandidate", onCandidate);
        clearTimeout(timer);
        timer = setTimeout(finish, GATHER_AFTER_FIRST_MS);
      }
      peer.addEventListener("icegatheringstatechange", onState);
      peer.addEventListener("icecandidate", onCandidate);
    });
  }

  function makePeer() {
    const peer = new RTCPeerConnection();
    const video = peer.addTransceiver("video", { direction: "sendrecv" });
    preferH264(video, "video");
    const audio = peer.addTransceiver("audio", { direction: "sendrecv" });
    const offered = (async () => {
      await peer.setLocalDescription(await peer.createOffer());
      mark("offer");
      await gathered(peer);
      mark("gathered");
    })();
    offered.catch(() => {});  // awaited (and its failure handled) by connect()
    return { peer, video, audio, offered };
  }

  function closed(s) { return !s || s.peer.signalingState === "closed"; }

  function attachStream() {
    // The camera and microphone into the peer in use, whenever both exist.
    const s = side;
    if (closed(s) || !stream) return;
    const cam = stream.getVideoTracks()[0] || null;
    const mic = stream.getAudioTracks()[0] || null;
    if (s.video.sender.track !== cam) s.video.sender.replaceTrack(cam).catch(() => {});
    if (s.audio.sender.track !== mic) s.audio.sender.replaceTrack(mic).catch(() => {});
    applyProfile(null);
  }

  async function applyProfile(profile) {
    if (profile) profileNow = profile;
    // The peer is held here: the page may close it (removed, left) while the camera rescales.
    const s = side;
    const p = profileNow;
    if (!p || closed(s) || !stream) return;
    const track = stream.getVideoTracks()[0];
    if (track) {
      try {
        await track.applyConstraints({ width: { ideal: p.width }, height: { ideal: p.height },
                                       frameRate: { max: p.fps } });
      } catch (e) { /* a camera that cannot scale keeps its size; the bitrate cap still holds */ }
    }
    if (closed(s) || !s.peer.currentRemoteDescription) return;  // capped once the answer is in
    try {
      const params = s.video.sender.getParameters();
      if (!params.encodings || !params.encodings.length) return;
      params.encodings[0].maxBitrate = p.kbps * 1000;
      params.encodings[0].maxFramerate = p.fps;
      await s.video.sender.setParameters(params);
    } catch (e) { /* closed meanwhile, or applied on the next offer */ }
  }

  function watchFrames(video) {
    if (!video.requestVideoFrameCallback) return;
    const onFrame = (now) => {
      program.frames += 1;
      if (program.firstFrameMs === null) {
        program.firstFrameMs = now;
        mark("first_frame");
        $("media-status").textContent = "กำลังรับภาพและเสียงการประชุม / Receiving the program";
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  function retry(s, th, en, ms) {
    // This peer is done with: a fresh offer heals (the hub's peer has no ICE restart).
    if (side === s) side = null;
    if (!closed(s)) s.peer.close();
    $("media-status").textContent = th + " / " + en;
    if (ms) setTimeout(connect, ms);
  }

  async function connect() {
    if (side || connecting) return;
    connecting = true;
    mark("connect");
    $("media-status").textContent = "กำลังเชื่อมต่อภาพและเสียง… / Connecting the program…";
    const s = spare && !closed(spare) ? spare : makePeer();
    spare = null;
    side = s;
    const peer = s.peer;
    ensureStream().catch(() => { /* watch only: a phone without a camera still receives the program */ });
    attachStream();
    const incoming = new MediaStream();
    const out = $("program");
    peer.ontrack = (ev) => {
      mark("track");
      incoming.addTrack(ev.track);
      if (ev.track.kind === "audio") {
        program.audio = ev.track.readyState;
        ev.track.addEventListener("ended", () => { program.audio = "ended"; });
      }
      if (out.srcObject !== incoming) {
        out.srcObject = incoming;
        watchFrames(out);
      }
      out.play().catch(() => { $("sound").hidden = false; });  // a phone wants a tap for sound
    };
    peer.oniceconnectionstatechange = () => {
      if (peer.iceConnectionState === "connected" || peer.iceConnectionState === "completed") mark("ice");
    };
    peer.onconnectionstatechange = () => {
      if (side !== s) return;
      program.connected = peer.connectionState === "connected";
      if (program.connected) mark("connected");
      if (peer.connectionState === "failed") retry(s, "การเชื่อมต่อขาด กำลังเชื่อมต่อใหม่", "Connection lost, reconnecting", 2000);
    };
    try {
      await s.offered;
      if (side !== s) return;  // left or removed while gathering
      const r = await call("POST", "/me/offer", { type: "offer", sdp: peer.localDescription.sdp });
      mark("answer");
      if (side !== s) return;
      if (!r.ok) {
        // Not started yet, or the media side restarting: try again; a refusal of the offer itself is final.
        retry(s, r.data.th || "", r.data.en || "", r.status === 409 || r.status === 503 ? 3000 : 0);
        return;
      }
      await peer.setRemoteDescription({ type: "answer", sdp: r.data.sdp });
      mark("remote");
      if (side !== s) return;
      await applyProfile(r.data.send_profile);
    } catch (e) {
      // A peer closed meanwhile (left, removed) rejects what was pending on it: nothing to do.
      if (side === s) retry(s, "ยังเชื่อมต่อภาพและเสียงไม่ได้ กำลังลองใหม่", "The program could not be connected, retrying", 3000);
    } finally {
      connecting = false;
    }
  }

  function disconnect() {
    for (const s of [side, spare]) if (!closed(s)) s.peer.close();
    side = null;
    spare = null;
    program.connected = false;
  }

  const FLOOR = {
    queued: (v) => ["ยกมือแล้ว รอประธานอนุญาต" + (v.position ? " (ลำดับที่ " + v.position + ")" : ""),
                    "Hand raised, waiting for the chair" + (v.position ? " (position " + v.position + ")" : "")],
    granted: () => ["ท่านได้รับสิทธิ์พูด", "You have the floor"],
    denied: () => ["ประธานไม่อนุญาตให้พูดในครั้งนี้", "The chair declined your request"],
  };

  function showView(guest) {
    view = guest.media || null;
    if (view && view.ended) {
      disconnect();
      $("in-briefing").hidden = true;
      $("join-form").hidden = true;
      $("lobby").hidden = true;
      $("ended").hidden = false;
      $("ended").dataset.state = "ended";
      $("ended-th").textContent = "การประชุมจบแล้ว ขอบคุณที่เข้าร่วม";
      $("ended-en").textContent = "The briefing has ended. Thank you for joining.";
      if (stream) setMic(true);
      return;
    }
    const fs = $("floor-status");
    const words = view && FLOOR[view.floor] ? FLOOR[view.floor](view) : null;
    fs.textContent = words ? words[0] + " / " + words[1] : "";
    fs.dataset.floor = view ? view.floor : "";
    const allowed = !!guest.may_unmute || !!(view && view.holder);
    $("mute").disabled = !allowed;
    $("mic-note").hidden = allowed;
    // The hub's mix decides who is heard; this browser sends its microphone only while it is open there.
    if (view) setMic(!view.mic_open);
    else if (!allowed) setMic(true);
    if (view) applyProfile(view.send_profile);
  }

  // --- polls: the briefing's open polls, a vote through the hub's polls room ----------------------
  function showPolls(polls) {
    const box = $("polls");
    const list = $("poll-list");
    list.replaceChildren();
    box.hidden = !polls || polls.length === 0;
    for (const poll of polls || []) {
      const card = document.createElement("fieldset");
      card.className = "poll";
      card.dataset.poll = String(poll.id);
      card.dataset.voted = String(!!poll.voted);
      const legend = document.createElement("legend");
      legend.textContent = poll.question;
      card.append(legend);
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = poll.voted
        ? "ท่านลงมติแล้ว / You have voted"
        : (poll.secret ? "ลงมติลับ ไม่มีการบันทึกว่าใครเลือกอะไร / Secret ballot: no record of who chose what"
                       : "ลงมติเปิดเผย / Open ballot");
      card.append(note);
      poll.options.forEach((label, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "btn vote";
        b.dataset.option = String(i);
        b.textContent = label;
        b.disabled = !!poll.voted;
        b.addEventListener("click", () => vote(poll.id, i));
        card.append(b);
      });
      list.append(card);
    }
  }

  async function vote(pollId, option) {
    const status = $("poll-status");
    const r = await call("POST", "/me/vote", { poll: pollId, option });
    status.dataset.state = r.ok ? "voted" : "refused";
    status.dataset.code = r.ok ? "" : (r.data.code || "");
    status.textContent = r.ok ? "บันทึกการลงมติแล้ว / Your vote was recorded"
                              : (r.data.th || "ลงมติไม่สำเร็จ") + " / " + (r.data.en || "Vote refused");
    if (r.ok) show(r.data);
  }

  // --- the states ---------------------------------------------------------------------------
  const ENDED = {
    refused: ["ผู้ดำเนินการประชุมไม่อนุญาตให้เข้าร่วม", "The chair did not admit you"],
    removed: ["ท่านถูกเชิญออกจากการประชุมนี้ จึงเข้าร่วมด้วยลิงก์นี้อีกไม่ได้", "You were removed from this briefing and cannot rejoin with this link"],
    left: ["ท่านออกจากการประชุมแล้ว เปิดลิงก์อีกครั้งเพื่อกลับเข้าร่วม", "You left the briefing; open the link again to rejoin"],
  };

  function show(guest) {
    version = guest.version || version;
    if (guest.media && guest.media.ended) { showView(guest); return; }
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
      disconnect();
    }
    if (guest.status === "admitted") {
      mark("admitted");
      const hand = $("hand");
      hand.setAttribute("aria-pressed", String(!!guest.hand_raised));
      hand.classList.toggle("hand-up", !!guest.hand_raised);
      showView(guest);
      if (guest.polls) showPolls(guest.polls);
      if (!(guest.media && guest.media.ended)) connect();
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
    mark("submit");
    // While the hub checks the passcode: the camera opens (its prompt, on a phone) and the peer
    // gathers its offer, so an admitted guest's offer goes at once. Nothing reaches the hub's
    // media side before the passcode and the lobby said yes.
    ensureStream().catch(() => {});
    if (closed(spare)) spare = makePeer();
    const r = await call("POST", "", {
      k: token, district, passcode: field("passcode"), name: field("name"), organisation: field("organisation"),
    });
    $("join").disabled = false;
    if (r.ok) mark("joined");
    if (!r.ok) { error(r.data); if (r.data.field && $(r.data.field)) $(r.data.field).focus(); return; }
    if ($("passcode")) $("passcode").closest("form").querySelectorAll("[for=passcode], #passcode").forEach((e) => e.remove());
    show(r.data);
  });
  $("hand").addEventListener("click", async () => {
    const raised = $("hand").getAttribute("aria-pressed") !== "true";
    const r = await call("POST", "/me/hand", { raised });
    if (r.ok) show(r.data);
  });
  $("mute").addEventListener("click", async () => {
    const open = micMuted;
    const r = await call("POST", "/me/mic", { open });
    if (!r.ok) return;
    show(r.data);
    if (!r.data.media) setMic(!open);  // not in the mix yet: the page's own switch only
  });
  // Presenting: a photo or clip from the gallery, through the hub's content checks; it goes on
  // screen once converted, while the chair allows it (or this browser holds the floor).
  $("present-file").addEventListener("change", async () => {
    const input = $("present-file");
    const file = input.files && input.files[0];
    if (!file) return;
    const status = $("present-status");
    status.textContent = "กำลังส่ง " + file.name + "… / Sending…";
    const form = new FormData();
    form.append("file", file, file.name);
    let data = {};
    let resp = null;
    try {
      resp = await fetch(base + "/me/content", { method: "POST", credentials: "same-origin",
                                                 headers: { "X-CSRF-Token": csrf }, body: form });
      data = await resp.json();
    } catch (e) { data = { th: "ส่งไม่สำเร็จ", en: "Upload failed" }; }
    input.value = "";
    status.dataset.state = resp && resp.ok ? "sent" : "refused";
    status.textContent = resp && resp.ok
      ? "ส่งแล้ว จะขึ้นจอเมื่อแปลงไฟล์เสร็จ / Sent; it goes on screen once converted"
      : (data.th || "ส่งไม่สำเร็จ") + " / " + (data.en || "Upload failed");
  });
  $("sound").addEventListener("click", () => { $("program").play().then(() => { $("sound").hidden = true; }); });
  $("leave").addEventListener("click", async () => {
    const r = await call("POST", "/me/leave");
    if (r.ok) show(r.data);
  });

  const known = JSON.parse(app.dataset.guest || "{}");
  if (known.status && known.status !== "left" && known.status !== "refused") show(known);
})();
