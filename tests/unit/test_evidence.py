"""Prometheus evidence saving, against a FAKE Prometheus HTTP server on loopback (harness logic only)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from gameday.reports.evidence import QUERIES, save_prometheus_view


class FakePrometheus(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {"job": "api"}, "values": [[1.0, "1"]]}]}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def test_fake_prometheus_every_query_saved(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), FakePrometheus)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        summary = save_prometheus_view(f"http://127.0.0.1:{server.server_port}", 100.0, 160.0, tmp_path / "p.json")
    finally:
        server.shutdown()
    data = json.loads((tmp_path / "p.json").read_text())
    assert summary == f"{len(QUERIES)} of {len(QUERIES)} Prometheus queries saved"
    assert set(data["series"]) == set(QUERIES) and data["errors"] == {}


def test_unreachable_prometheus_is_recorded_not_fatal(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    summary = save_prometheus_view(f"http://127.0.0.1:{port}", 100.0, 160.0, tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    assert summary.startswith("0 of")
    assert set(data["errors"]) == set(QUERIES)
