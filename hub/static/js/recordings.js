// Recordings page: start/stop, legal hold and delete go through the API (ui.js adds the CSRF header),
// then the page reloads to show the server's state.
"use strict";
(function () {
  const S = window.Salaklang;
  document.addEventListener("click", async (ev) => {
    const button = ev.target.closest("[data-rec-action]");
    if (!button) return;
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
    const out = await S.act(button, () => S.api(button.dataset.recAction, button.dataset.url, body));
    if (out !== undefined) setTimeout(() => location.reload(), 600);
  });
  document.addEventListener("salaklang:event", (ev) => {
    if (ev.detail && ev.detail.kind === "recording") setTimeout(() => location.reload(), 800);
  });
})();
