// Today / schedule: coming briefings with countdowns, series, invitations, new series.
"use strict";
(function () {
  const S = window.Salaklang;
  const T = S.pageText();
  const occBody = document.querySelector("#occurrences tbody");
  if (!occBody) return;
  const seriesBody = document.querySelector("#series tbody");
  const canEdit = T.can_edit;
  let occurrences = [];

  function countdown(iso) {
    let s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    if (s <= 0) return T.now;
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60);
    if (d > 0) return `${d} ${T.days} ${h} ${T.hours}`;
    if (h > 0) return `${h} ${T.hours} ${m} ${T.minutes}`;
    return `${m} ${T.minutes} ${s % 60}s`;
  }

  function stateWord(st) { return T["state_" + st] || st; }

  async function showReadiness(occ, row, button) {
    const next = row.nextElementSibling;
    if (next && next.classList.contains("detail")) { next.remove(); button.setAttribute("aria-expanded", "false"); return; }
    const board = await S.act(button, () => S.api("GET", `/api/v1/occurrences/${occ.id}/readiness`), T.readiness);
    if (!board) return;
    const list = S.el("ul", { class: "readiness" }, ...board.districts.map((d) => S.el("li", {
      class: d.ready === true ? "ok" : d.ready === false ? "bad" : "" },
      (d.ready === true ? "✔ " : d.ready === false ? "✖ " : "… ") + (S.lang === "th" ? d.name_th : d.name_en)
      + (d.reasons && d.reasons.length ? " — " + d.reasons.join(", ") : "")
      + (d.ready === false && d.contact_phone ? " ☎ " + d.contact_phone : "")
      + (d.presence && d.presence !== "not_started" ? ` [${d.presence}]` : ""))));
    row.after(S.el("tr", { class: "detail" }, S.el("td", { colspan: 6 }, list)));
    button.setAttribute("aria-expanded", "true");
  }

  function renderOccurrences() {
    if (!occurrences.length) {
      occBody.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 6, text: T.none })));
      return;
    }
    occBody.replaceChildren(...occurrences.map((o) => {
      const actions = S.el("td", { class: "actions" });
      const row = S.el("tr", { "data-id": o.id, "data-series": o.series_id, "data-date": o.key_date },
        S.el("td", { text: S.fmtDate(o.starts_at) }),
        S.el("td", { class: "countdown", "data-starts": o.starts_at, text: countdown(o.starts_at) }),
        S.el("td", { text: o.title }),
        S.el("td", { class: "st-" + o.state, text: stateWord(o.state) }),
        S.el("td", { text: String(o.districts.length) }),
        actions);
      const rb = S.el("button", { type: "button", text: T.readiness, "aria-expanded": "false" });
      rb.addEventListener("click", () => showReadiness(o, row, rb));
      actions.append(rb);
      if (canEdit && o.state === "scheduled") {
        const skip = S.el("button", { type: "button", class: "danger-outline", text: T.skip, "aria-label": `${T.skip}: ${o.title} ${S.fmtDate(o.starts_at)}` });
        skip.addEventListener("click", async () => {
          if (!(await S.confirmAction(`${T.confirm_skip}\n${o.title} — ${S.fmtDate(o.starts_at)}`))) return;
          if (await S.act(skip, () => S.api("POST", `/api/v1/series/${o.series_id}/occurrences/${o.key_date}/skip`), T.skipped)) load();
        });
        const move = S.el("button", { type: "button", text: T.move, "aria-label": `${T.move}: ${o.title} ${S.fmtDate(o.starts_at)}` });
        move.addEventListener("click", () => moveOccurrence(o, move));
        actions.append(skip, move);
      }
      return row;
    }));
  }

  function moveOccurrence(o, button) {
    const dialog = document.getElementById("move-dialog");
    const input = document.getElementById("move-start");
    input.value = String(o.starts_at_local).slice(0, 16);
    dialog.returnValue = "";
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "ok" || !input.value) return;
      const ok = await S.act(button, () => S.api("POST",
        `/api/v1/series/${o.series_id}/occurrences/${o.key_date}/move`, { start: input.value }), T.moved);
      if (ok) load();
    }, { once: true });
    dialog.showModal();
  }

  function renderSeries(rows) {
    if (!rows.length) {
      seriesBody.replaceChildren(S.el("tr", {}, S.el("td", { colspan: 7, text: T.no_series })));
      return;
    }
    seriesBody.replaceChildren(...rows.map((s) => {
      const actions = S.el("td", { class: "actions" });
      const row = S.el("tr", { "data-id": s.id },
        S.el("td", { text: s.title }),
        S.el("td", { text: `${S.fmtDate(s.start_date, false)} – ${S.fmtDate(s.end_date, false)}` }),
        S.el("td", { text: String(s.start_time).slice(0, 5) }),
        S.el("td", { text: T[s.recurrence] || s.recurrence }),
        S.el("td", { text: stateWord(s.state) }),
        S.el("td", { text: s.invited ? T.yes : T.no }),
        actions);
      const show = S.el("button", { type: "button", text: T.show_inv });
      show.addEventListener("click", () => showInvitations(s, show));
      actions.append(show);
      if (canEdit && s.state === "active") {
        const invite = S.el("button", { type: "button", text: T.invite });
        invite.addEventListener("click", async () => {
          if (await S.act(invite, () => S.api("POST", `/api/v1/series/${s.id}/invitations`), T.invited)) {
            load(); showInvitations(s, show, true);
          }
        });
        const edit = S.el("button", { type: "button", text: T.edit, "aria-label": `${T.edit}: ${s.title}` });
        edit.addEventListener("click", async () => {
          const full = await S.act(edit, () => S.api("GET", `/api/v1/series/${s.id}`), T.edit);
          if (full) startEdit(full);
        });
        const cancel = S.el("button", { type: "button", class: "danger-outline", text: T.cancel_series });
        cancel.addEventListener("click", async () => {
          if (!(await S.confirmAction(`${T.confirm_cancel}\n${s.title}`))) return;
          if (await S.act(cancel, () => S.api("DELETE", `/api/v1/series/${s.id}`), T.cancelled)) load();
        });
        actions.append(invite, edit, cancel);
      }
      return row;
    }));
  }

  async function showInvitations(s, button, quiet) {
    // After "send invitations" the list refreshes quietly so the send result stays visible.
    const fetchRows = () => S.api("GET", `/api/v1/invitations?series_id=${s.id}`);
    const rows = quiet ? await fetchRows().catch((e) => { S.say(e.message, false); }) : await S.act(button, fetchRows, T.show_inv);
    if (!rows) return;
    const box = document.getElementById("invitations");
    box.hidden = false;
    document.getElementById("inv-title").textContent = `${T.show_inv}: ${s.title}`;
    box.querySelector("tbody").replaceChildren(...rows.map((m) => S.el("tr", { class: "mail-" + m.state },
      S.el("td", { text: m.site_code || "—" }), S.el("td", { text: m.to }),
      S.el("td", { text: m.method || m.kind }),
      S.el("td", { text: (m.state === "sent" ? "✔ " : m.state === "failed" ? "✖ " : "… ") + (T["mail_" + m.state] || m.state) }),
      S.el("td", { text: String(m.attempts) }), S.el("td", { text: m.last_error || "" }))));
  }

  async function load() {
    try {
      const [occ, series] = await Promise.all([S.api("GET", `/api/v1/occurrences?to=${new Date(Date.now() + 400 * 86400000).toISOString().slice(0, 10)}`), S.api("GET", "/api/v1/series")]);
      occurrences = occ.filter((o) => o.state !== "cancelled");
      renderOccurrences();
      renderSeries(series);
    } catch (e) { S.say(e.message, false); }
  }
  setInterval(() => {
    document.querySelectorAll("td.countdown").forEach((td) => { td.textContent = countdown(td.dataset.starts); });
  }, 1000);
  document.addEventListener("salaklang:event", (ev) => {
    if (["briefing", "readiness", "series"].includes(ev.detail.kind)) load();
  });
  load();

  // --- new series form --------------------------------------------------------------------
  const form = document.getElementById("series-form");
  if (!form) return;
  const all = document.getElementById("f-all");
  const boxes = () => [...form.querySelectorAll('input[name="districts"]')];
  all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
  const recurrence = document.getElementById("f-recurrence");
  const weekdays = document.getElementById("f-weekdays");
  const syncRecurrence = () => { weekdays.hidden = recurrence.value !== "weekdays"; };
  recurrence.addEventListener("change", syncRecurrence);
  syncRecurrence();

  document.getElementById("preset-songkran").addEventListener("click", () => {
    const p = T.preset;
    document.getElementById("f-title").value = p.title;
    document.getElementById("f-start-date").value = p.start_date;
    document.getElementById("f-end-date").value = p.end_date;
    document.getElementById("f-start-time").value = p.start_time;
    document.getElementById("f-duration").value = p.duration_min;
    recurrence.value = p.recurrence; syncRecurrence();
    document.getElementById("f-layout").value = p.layout;
    all.checked = true; boxes().forEach((b) => { b.checked = true; });
    document.getElementById("f-title").focus();
  });

  // Editing fills the same form; saving sends a PATCH (the hub mails an update, same UID).
  let editing = null;
  const heading = document.getElementById("new-title");
  const submit = document.getElementById("create-series");
  const cancelEdit = document.getElementById("cancel-edit");
  function stopEdit() {
    editing = null;
    heading.textContent = T.new_series; submit.textContent = T.create; cancelEdit.hidden = true;
  }
  cancelEdit.addEventListener("click", () => { stopEdit(); form.reset(); syncRecurrence(); });
  function startEdit(full) {
    editing = full.id;
    form.elements["title"].value = full.title;
    form.elements["organizer_email"].value = full.organizer_email;
    recurrence.value = full.recurrence; syncRecurrence();
    form.elements["start_date"].value = full.start_date;
    form.elements["end_date"].value = full.end_date;
    form.elements["start_time"].value = String(full.start_time).slice(0, 5);
    form.elements["duration_min"].value = full.duration_min;
    form.elements["layout"].value = full.layout;
    const chosen = new Set(full.districts);
    boxes().forEach((b) => { b.checked = chosen.has(b.value); });
    all.checked = boxes().every((b) => b.checked);
    form.querySelectorAll('input[name="weekdays"]').forEach((b) => { b.checked = (full.weekdays || []).includes(Number(b.value)); });
    heading.textContent = `${T.editing}: ${full.title}`;
    submit.textContent = T.save; cancelEdit.hidden = false;
    heading.scrollIntoView(); form.elements["title"].focus();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("form-error");
    err.hidden = true;
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    const districts = boxes().filter((b) => b.checked).map((b) => b.value);
    const body = {
      title: form.elements["title"].value.trim(),
      organizer_email: form.elements["organizer_email"].value.trim(),
      recurrence: recurrence.value,
      start_date: form.elements["start_date"].value,
      start_time: form.elements["start_time"].value,
      duration_min: Number(form.elements["duration_min"].value),
      layout: form.elements["layout"].value,
      districts: all.checked && districts.length === boxes().length ? "all" : districts,
    };
    if (form.elements["end_date"].value) body.end_date = form.elements["end_date"].value;
    if (recurrence.value === "weekdays") {
      body.weekdays = [...form.querySelectorAll('input[name="weekdays"]:checked')].map((b) => Number(b.value));
    }
    const button = document.getElementById("create-series");
    button.disabled = true;
    try {
      if (editing) {
        await S.api("PATCH", `/api/v1/series/${editing}`, body);
        S.say(T.saved, true);
        stopEdit();
      } else {
        await S.api("POST", "/api/v1/series", body);
        S.say(T.created, true);
      }
      load();
    } catch (e) {
      err.hidden = false;
      err.textContent = "✖ " + e.message + (e.field ? ` [${e.field}]` : "");
      const field = e.field && form.querySelector(`[name="${e.field}"]`);
      if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
      S.say(e.message, false);
    } finally { button.disabled = false; }
  });
})();
