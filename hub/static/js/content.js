// Content panel of the conference page (hub/content/http.py): upload with progress, library,
// page stepping (buttons and the arrow keys), clip play/pause/seek with a position bar.
"use strict";
(function () {
  const S = window.Salaklang;
  const T = JSON.parse(document.getElementById("content-text").textContent);
  const panel = document.getElementById("content-panel");
  const canAct = panel.dataset.canAct === "1";
  let confId = null;
  let stage = null;
  let clipTimer = null;
  const base = () => `/api/v1/conferences/${confId}/content`;

  function setProgress(percent, text) {
    const bar = document.getElementById("content-progress");
    if (!bar) return;
    bar.hidden = percent === null;
    if (percent !== null) bar.value = percent;
    document.getElementById("content-progress-text").textContent = text || "";
  }

  // Upload with XMLHttpRequest: fetch() cannot report upload progress.
  function upload(file) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", base());
      xhr.setRequestHeader("X-CSRF-Token", document.querySelector('meta[name="csrf-token"]').content);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) setProgress(Math.round(50 * ev.loaded / ev.total), file.name); };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: xhr.statusText }; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body); else reject(new Error(body.error || xhr.status));
      };
      xhr.onerror = () => reject(new Error("network"));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  }

  function renderStage() {
    const img = document.getElementById("content-page");
    const state = document.getElementById("content-state");
    const clipRow = document.getElementById("content-clip");
    const shown = stage && stage.showing;
    clearInterval(clipTimer);
    if (!shown) {
      img.hidden = true; clipRow.hidden = true; state.textContent = T.none;
      return;
    }
    if (shown.screen) {  // a district's live screen: seen in the program preview, no page image
      img.hidden = true; clipRow.hidden = true; state.textContent = `${T.screen} ${shown.screen}`;
      return;
    }
    img.hidden = false;
    img.src = stage.image_url;
    state.textContent = `${T.page} ${shown.page} ${T.of} ${shown.pages}`;
    document.getElementById("content-goto").max = shown.pages;
    clipRow.hidden = !shown.clip;
    if (shown.clip) {
      const bar = document.getElementById("content-position");
      bar.max = shown.clip.duration_s;
      const started = Date.now();
      const tick = () => {
        const pos = shown.clip.status === "playing"
          ? Math.min(shown.clip.duration_s, shown.clip.position_s + (Date.now() - started) / 1000) : shown.clip.position_s;
        bar.value = pos;
        document.getElementById("content-time").textContent = `${pos.toFixed(1)} / ${shown.clip.duration_s.toFixed(1)} s`;
      };
      tick();
      if (shown.clip.status === "playing") clipTimer = setInterval(tick, 250);
    }
  }

  async function refreshLibrary() {
    const out = await S.api("GET", base());
    const body = document.querySelector("#content-library tbody");
    if (!out.items.length) { body.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 4, text: T.empty }))); return; }
    body.replaceChildren(...out.items.map((item) => {
      const actions = S.el("td", { class: "actions" });
      if (item.status === "ready") {
        const b = S.el("button", { type: "button", text: T.show, disabled: !canAct, "aria-label": `${T.show}: ${item.name}` });
        b.addEventListener("click", () => S.act(b, () => send("show", { item_id: item.id, layout: document.getElementById("conf-live").dataset.layout || null })));
        actions.append(b);
      }
      const status = item.status === "failed" ? `${T.failed}: ${item.error}` : T[item.status] || item.status;
      return S.el("tr", { "data-item": item.id, "data-status": item.status },
        S.el("td", { text: item.uploaded_by.startsWith("agent:") ? `${item.name} (${T.from} ${item.uploaded_by.slice(6)})` : item.name }),
        S.el("td", { text: status }), S.el("td", { text: String(item.pages) }), actions);
    }));
  }

  async function send(verb, body) {
    stage = await S.api("POST", `${base()}/stage/${verb}`, body || {});
    renderStage();
    return stage;
  }

  async function refresh() {
    const rows = await S.api("GET", "/api/v1/conferences").catch(() => []);
    const live = (rows || []).find((c) => c.status === "live");
    confId = live ? live.id : null;
    panel.hidden = confId === null;
    if (confId === null) return;
    stage = await S.api("GET", `${base()}/stage`);
    renderStage();
    await refreshLibrary();
  }

  const form = document.getElementById("content-upload");
  if (form) form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = document.getElementById("content-file").files[0];
    if (!file) { S.say(T.pick, false); return; }
    await S.act(form.querySelector("button"), async () => { await upload(file); setProgress(50, T.uploaded); await refreshLibrary(); }, T.uploaded);
  });

  panel.querySelectorAll("[data-content]").forEach((b) => {
    b.disabled = !canAct;
    b.addEventListener("click", () => {
      const verb = b.dataset.content;
      const body = verb === "goto" ? { page: Number(document.getElementById("content-goto").value) } : {};
      S.act(b, () => send(verb, body));
    });
  });
  // The chair lets a district present while another holds the floor (hub/content/district.py).
  const allowForm = document.getElementById("content-allow");
  async function allow(on) {
    const site = document.getElementById("content-allow-site").value.trim();
    if (!site || confId === null) return;
    const out = await S.api("POST", `${base()}/districts/${encodeURIComponent(site)}/allow`, { allow: on });
    document.getElementById("content-allowed").textContent = `${T.allowed}: ${out.allowed.join(", ") || "—"}`;
  }
  if (allowForm) {
    allowForm.addEventListener("submit", (ev) => { ev.preventDefault(); S.act(allowForm.querySelector('[data-allow="1"]'), () => allow(true)); });
    const withdraw = allowForm.querySelector('[data-allow="0"]');
    withdraw.addEventListener("click", () => S.act(withdraw, () => allow(false)));
  }
  const position = document.getElementById("content-position");
  position.addEventListener("change", () => S.act(null, () => send("seek", { position_s: Number(position.value) })));

  // Arrow keys step pages, unless the operator is typing in a field.
  document.addEventListener("keydown", (ev) => {
    if (!canAct || !stage || !stage.showing || ev.target.closest("input, textarea, select")) return;
    if (ev.key === "ArrowRight" || ev.key === "PageDown") { ev.preventDefault(); send("next").catch((e) => S.say(e.message, false)); }
    if (ev.key === "ArrowLeft" || ev.key === "PageUp") { ev.preventDefault(); send("prev").catch((e) => S.say(e.message, false)); }
  });

  document.addEventListener("salaklang:event", (ev) => {
    const { kind, data } = ev.detail;
    if (kind === "content.progress" && data.conference_id === confId) {
      const label = `${data.name}: ${T[data.stage] || data.stage}` + (data.total ? ` ${data.done}/${data.total}` : "");
      setProgress(data.percent === null ? 50 : 50 + Math.round(data.percent / 2), label);
    }
    if ((kind === "content.ready" || kind === "content.failed") && data.conference_id === confId) {
      setProgress(null, kind === "content.failed" ? `${T.failed}: ${data.th} / ${data.en}` : "");
      refreshLibrary();
    }
    if (kind === "content.stage" && data.conference_id === confId) {
      stage = { ...data, image_url: data.showing && !data.showing.screen ? `/api/v1/content/${data.showing.item_id}/pages/${data.showing.page}` : null };
      renderStage();
    }
    if (kind === "conference") refresh();
  });
  refresh().catch((e) => S.say(e.message, false));
})();
