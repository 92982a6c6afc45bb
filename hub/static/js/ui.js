// Shared helpers for the control-room pages: API calls with CSRF, visible
// results, confirmation of destructive actions, Thai/English date display.
"use strict";
(function () {
  const common = JSON.parse(document.getElementById("ui-text-common").textContent);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const lang = document.body.dataset.lang || "th";
  const toast = document.getElementById("toast");
  let toastTimer = null;

  function say(text, ok) {
    toast.hidden = false;
    toast.className = "toast " + (ok ? "ok" : "bad");
    toast.setAttribute("role", ok ? "status" : "alert");
    toast.textContent = (ok ? "✔ " : "✖ ") + text;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, ok ? 5000 : 12000);
  }

  class ApiError extends Error {
    constructor(status, body) {
      const msg = (body && (body.error || body.message)) || ("HTTP " + status);
      super(msg);
      this.status = status;
      this.body = body;
      this.field = body && body.field;
    }
  }

  async function api(method, url, body) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrfMeta ? csrfMeta.content : "";
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try { resp = await fetch(url, init); } catch (e) { throw new ApiError(0, { error: common.network }); }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text.slice(0, 200) }; }
    if (!resp.ok) {
      if (resp.status === 403 && data && !data.field) data.error = common.forbidden + " (" + (data.error || 403) + ")";
      throw new ApiError(resp.status, data);
    }
    return data;
  }

  // Run an action and always show what happened: the result or the error.
  async function act(button, fn, okText) {
    if (button) button.disabled = true;
    try {
      const out = await fn();
      say(okText || common.ok, true);
      return out;
    } catch (e) {
      say(common.error + ": " + e.message + (e.field ? " [" + e.field + "]" : ""), false);
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  const dialog = document.getElementById("confirm-dialog");
  function confirmAction(text) {
    return new Promise((resolve) => {
      document.getElementById("confirm-text").textContent = text;
      dialog.returnValue = "";
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  const locale = lang === "th" ? "th-TH" : "en-GB";  // th-TH gives Buddhist Era years
  function fmtDate(value, withTime) {
    if (value === null || value === undefined || value === "") return "—";
    const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (isNaN(d.getTime())) return String(value);
    const opts = { timeZone: "Asia/Bangkok", day: "numeric", month: "short", year: "numeric" };
    if (withTime !== false) Object.assign(opts, { hour: "2-digit", minute: "2-digit", hour12: false });
    return d.toLocaleString(locale, opts);
  }
  function fmtTime(value) {
    const d = new Date(value);
    return d.toLocaleTimeString(locale, { timeZone: "Asia/Bangkok", hour: "2-digit", minute: "2-digit", hour12: false });
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function pageText() {
    const node = document.getElementById("ui-text");
    return node ? JSON.parse(node.textContent) : {};
  }
  function canAct(role) {
    const rank = { viewer: 0, operator: 1, admin: 2 };
    return rank[common.role] >= rank[role];
  }

  // Pages other than the board (which has its own socket in board.js) get the
  // same live events as a DOM event, so each page script only listens.
  function connectEvents() {
    let backoff = 500;
    const open = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events/ws`);
      ws.onopen = () => { backoff = 500; };
      ws.onmessage = (ev) => {
        document.dispatchEvent(new CustomEvent("salaklang:event", { detail: JSON.parse(ev.data) }));
      };
      ws.onclose = () => { setTimeout(open, backoff); backoff = Math.min(backoff * 2, 15000); };
    };
    open();
  }
  if (!document.getElementById("tiles")) connectEvents();

  window.Salaklang = { api, act, say, confirmAction, fmtDate, fmtTime, el, pageText, canAct, lang, ApiError };
})();
