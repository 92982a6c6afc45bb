// Admin: operators and roles, API tokens (create shows the token once; revoke asks first),
// agent versions and rollout waves (read from the updates feature).
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();
  const reload = () => setTimeout(() => location.reload(), 800);

  const opForm = document.getElementById("op-form");
  opForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = opForm.elements;
    const body = { username: f.username.value.trim(), display_name: f.display_name.value.trim(),
      password: f.password.value, role: f.role.value };
    if (await S.act(opForm.querySelector("button"), () => S.api("POST", "/api/v1/operators", body), T.created)) reload();
  });
  document.querySelectorAll(".role-select").forEach((sel) => {
    const before = sel.value;
    sel.addEventListener("change", async () => {
      const ok = await S.act(sel, () => S.api("POST", `/api/v1/operators/${sel.dataset.id}`, { role: sel.value }), T.role_changed);
      if (!ok) sel.value = before;
    });
  });
  document.querySelectorAll(".toggle-op").forEach((b) => b.addEventListener("click", async () => {
    const disable = b.dataset.disabled !== "1";
    if (disable && !(await S.confirmAction(T.confirm_disable))) return;
    if (await S.act(b, () => S.api("POST", `/api/v1/operators/${b.dataset.id}`, { disabled: disable }), T.updated)) reload();
  }));

  const tokForm = document.getElementById("tok-form");
  tokForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = tokForm.elements;
    const out = await S.act(tokForm.querySelector("button"),
      () => S.api("POST", "/api/v1/tokens", { name: f.name.value.trim(), username: f.username.value }), T.token_created);
    if (out) {
      document.getElementById("new-token").hidden = false;
      const input = document.getElementById("new-token-value");
      input.value = out.token;
      input.focus(); input.select();
    }
  });
  document.querySelectorAll("button.revoke").forEach((b) => b.addEventListener("click", async () => {
    if (!(await S.confirmAction(`${T.confirm_revoke}\n${b.dataset.name}`))) return;
    if (await S.act(b, () => S.api("POST", `/api/v1/tokens/${b.dataset.id}/revoke`), T.revoked)) reload();
  }));

  async function loadRollout() {
    const versions = document.querySelector("#versions tbody");
    if (!versions) return;
    try {
      const rows = await S.api("GET", "/api/v1/agent-versions");
      versions.replaceChildren(...(rows.length ? rows.map((r) => S.el("tr", {},
        S.el("td", { text: r.version }), S.el("td", { text: r.filename }),
        S.el("td", {}, S.el("code", { text: r.sha256.slice(0, 16) + "…", title: r.sha256 })),
        S.el("td", { text: r.signed ? "✔ " + T.yes : "✖ " + T.no }), S.el("td", { text: S.fmtDate(r.uploaded_at) })))
        : [S.el("tr", {}, S.el("td", { colspan: 5, text: T.no_versions }))]));
      const waves = await S.api("GET", "/api/v1/agent-waves");
      const holder = document.getElementById("waves");
      if (!waves.length) { holder.replaceChildren(S.el("p", { class: "muted", text: T.no_waves })); return; }
      holder.replaceChildren(...waves.map((w) => S.el("div", { class: "wave" },
        S.el("h4", { text: `#${w.number} ${w.name || ""} → ${w.release} · ${w.open ? "▶ " + T.open : "‖ " + T.opens + " " + S.fmtDate(w.opens_at)}` }),
        S.el("progress", { max: w.total || 1, value: w.updated, "aria-label": `${w.updated}/${w.total} ${T.updated_of}` }),
        S.el("span", { text: ` ${w.updated}/${w.total} ${T.updated_of} (${w.percent} %)` }),
        S.el("ul", { class: "wave-sites" }, ...w.sites.map((s) => S.el("li", { class: s.updated ? "ok" : "" },
          `${s.updated ? "✔" : "…"} ${S.lang === "th" ? s.name_th : s.name_en} ${s.version || "—"} ${s.online ? "" : "(" + T.offline + ")"}`))))));
    } catch (e) { S.say(e.message, false); }
  }
  loadRollout();
})();
