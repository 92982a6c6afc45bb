#!/usr/bin/env python3
"""Control-room board latency: agent state change → board shows it, and first paint.

Runs the real `hub demo` (20 real agent processes, control plane only) with one
conference running, opens the board in Debian's Chromium (Playwright, system
executable) and flips districts offline and online through the demo's agent
start/stop API. A MutationObserver in the page stamps each tile's change.

What "state change" means, per direction:
  offline: the moment the bench asks the demo to stop the agent process (so the
           figure includes the agent's exit and the hub noticing the closed socket);
  online:  the hub's own timestamp of the site going online (the `at` of the `site`
           event), because an agent's process start-up (Python imports) is not UI latency.

First paint: Chromium's first-contentful-paint of the board, over several fresh loads.

Ends with one JSON line: {"update_p50_ms": .., "update_p99_ms": .., "first_paint_ms": ..}
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TOKEN = "bench-ui-token-0123456789"
PASSWORD = "bench-ui-password"

OBSERVER_JS = """() => {
  window.__flips = [];
  window.__siteAt = {};
  document.addEventListener('salaklang:event', (ev) => {
    const m = ev.detail;
    if (m.kind === 'site') window.__siteAt[m.data.code + ':' + (m.data.online ? 1 : 0)] = m.at * 1000;
  });
  const obs = new MutationObserver((muts) => {
    const now = performance.timeOrigin + performance.now();
    for (const m of muts) {
      const t = m.target;
      if (t.classList && t.classList.contains('tile')) {
        window.__flips.push({code: t.dataset.code, online: t.dataset.online, at: now});
      }
    }
  });
  obs.observe(document.getElementById('tiles'), {subtree: true, attributes: true, attributeFilter: ['data-online']});
}"""


def api(url: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--port", str(free_port()), "--token", TOKEN, "--no-media",
         "--data-dir", str(tmp / "demo"), "--password", PASSWORD],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        if line.startswith("Salaklang demo:"):
            url = line.split(":", 1)[1].strip()
            break
    if not url:
        raise SystemExit(f"demo did not start (exit {proc.poll()})")
    threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if sum(1 for s in api(url, "GET", "/api/v1/sites") if s["online"]) == 20:
            return proc, url
        time.sleep(0.3)
    raise SystemExit("not all 20 districts came online")


def wait_flip(page: Page, code: str, online: str, timeout_s: float = 30) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        at = page.evaluate(
            "([c, o]) => { const f = window.__flips.find(x => x.code === c && x.online === o); return f ? f.at : null; }",
            [code, online],
        )
        if at is not None:
            return float(at)
        page.wait_for_timeout(5)
    raise SystemExit(f"board never showed {code} online={online}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips", type=int, default=20, help="districts flipped offline and back (2 samples each)")
    parser.add_argument("--loads", type=int, default=10, help="board loads for first paint")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    proc, url = start_demo(tmp)
    try:
        districts = sorted(s["code"] for s in api(url, "GET", "/api/v1/sites"))
        conf = api(url, "POST", "/api/v1/conferences", {"sites": districts, "layout": "4x5"})
        print(f"demo {url}: 20 districts online, conference #{conf['id']} running", flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url + "/login")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_selector("#tiles > li.tile")

            paints: list[float] = []
            for _ in range(args.loads):
                page.goto(url + "/", wait_until="load")
                fcp = page.evaluate(
                    "() => new Promise(r => { const f = () => { const e = performance.getEntriesByName('first-contentful-paint')[0];"
                    " if (e) r(e.startTime); else setTimeout(f, 10); }; f(); })"
                )
                paints.append(float(fcp))
            page.wait_for_function("() => document.getElementById('live-state').textContent.includes('●')")
            page.evaluate(OBSERVER_JS)

            offline_ms: list[float] = []
            online_ms: list[float] = []
            for i in range(args.flips):
                code = districts[i % len(districts)]
                t0 = time.time() * 1000
                api(url, "POST", f"/api/v1/demo/agents/{code}/stop")
                offline_ms.append(wait_flip(page, code, "0") - t0)
                api(url, "POST", f"/api/v1/demo/agents/{code}/start")
                shown = wait_flip(page, code, "1")
                hub_at = page.evaluate("(k) => window.__siteAt[k]", f"{code}:1")
                online_ms.append(shown - float(hub_at))
                page.evaluate("() => { window.__flips = []; window.__siteAt = {}; }")
            browser.close()
        api(url, "POST", f"/api/v1/conferences/{conf['id']}/end")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    both = offline_ms + online_ms
    print(f"offline flips (stop request → tile offline), n={len(offline_ms)}: "
          f"p50 {statistics.median(offline_ms):.1f} ms, p99 {pct(offline_ms, 99):.1f} ms, max {max(offline_ms):.1f} ms")
    print(f"online flips (hub event → tile online), n={len(online_ms)}: "
          f"p50 {statistics.median(online_ms):.1f} ms, p99 {pct(online_ms, 99):.1f} ms, max {max(online_ms):.1f} ms")
    print(f"first contentful paint over {len(paints)} loads: median {statistics.median(paints):.0f} ms, "
          f"max {max(paints):.0f} ms")
    print(json.dumps({"update_p50_ms": round(statistics.median(both), 1), "update_p99_ms": round(pct(both, 99), 1),
                      "first_paint_ms": round(statistics.median(paints), 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
