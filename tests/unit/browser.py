"""Debian's Chromium, headless, driven over the DevTools protocol: open a page as a person
would, and report what they would see go wrong (console errors, uncaught exceptions, failed
loads), what the page draws (plots) and how its verdict badges read (text, contrast)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What the page shows, measured in the page itself.
PROBE_JS = r"""
(() => {
  const rgb = s => (s.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
  const bg = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor; if (!/rgba\(0, 0, 0, 0\)|transparent/.test(c)) return rgb(c); } return [255, 255, 255]; };
  const plots = [...document.querySelectorAll('svg.plot')].map(svg => {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('path, polyline, rect, line, circle')].filter(e => { const b = e.getBBox(); return b.width > 0 || b.height > 0; });
    return {width: box.width, height: box.height, marks: marks.length};
  });
  const badges = [...document.querySelectorAll('.pill')].map(p => ({text: p.textContent.trim(), fg: rgb(getComputedStyle(p).color), bg: bg(p), visible: p.getBoundingClientRect().width > 0}));
  const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  return JSON.stringify({title: document.title, plots, badges, brokenImages: images, text: document.body.innerText.length});
})()
"""


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: list[float], bg: list[float]) -> float:
    """WCAG 2 contrast ratio: luminance only, so it holds in greyscale too."""
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@dataclass
class PageView:
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads
    probe: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromium:
    """One headless Chromium on a loopback debugging port, with an empty profile and no
    background networking (this machine's network is closed)."""

    def __init__(self) -> None:
        exe = shutil.which("chromium")
        assert exe, "chromium is missing: scripts/bootstrap installs Debian's chromium package"
        self.profile = tempfile.mkdtemp(prefix="gameday-chromium-")
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={self.profile}",
             "--remote-debugging-address=127.0.0.1", f"--remote-debugging-port={self.port}", "--remote-allow-origins=*", "--window-size=1280,2000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise AssertionError("chromium did not open its debugging port within 30 s") from None
                time.sleep(0.2)

    def open(self, page: Path, timeout_s: float = 30) -> PageView:
        import websocket

        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=5) as r:
            target = json.load(r)
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout_s, suppress_origin=True)
        view, ids = PageView(), iter(range(1, 10_000))
        events: list[dict] = []

        def call(method: str, **params: Any) -> dict:
            n = next(ids)
            ws.send(json.dumps({"id": n, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == n:
                    if "error" in msg:
                        raise AssertionError(f"{method}: {msg['error']}")
                    return msg.get("result", {})
                events.append(msg)

        try:
            for domain in ("Page", "Runtime", "Log"):
                call(f"{domain}.enable")
            call("Page.navigate", url=page.resolve().as_uri())
            deadline = time.monotonic() + timeout_s
            while not any(e.get("method") == "Page.loadEventFired" for e in events):
                assert time.monotonic() < deadline, f"{page} did not load within {timeout_s} s"
                events.append(json.loads(ws.recv()))
            time.sleep(0.3)  # late console messages
            result = call("Runtime.evaluate", expression=PROBE_JS, returnByValue=True)
            view.probe = json.loads(result["result"]["value"])
            view.screenshot = base64.b64decode(call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
            call("Runtime.evaluate", expression="0")  # flush events queued before it
        finally:
            ws.close()
        for e in events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                view.errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                view.errors.append("exception: " + p["exceptionDetails"].get("text", "") + " " + str(p["exceptionDetails"].get("exception", {}).get("description", "")))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                view.errors.append(f"log ({p['entry'].get('source')}): {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return view

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
