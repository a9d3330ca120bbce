"""The operator's promotion guard, on fake primary instances (real HTTP on loopback standing in
for the primary region's API /health) and a fake lab: harness logic only."""

from __future__ import annotations

import http.server
import threading
from types import SimpleNamespace

import pytest

from gameday.history import PromotionPhase
from gameday.lab.dr import promote as promote_mod
from gameday.lab.dr.plan import Action, Plan, Step
from gameday.lab.dr.status import promotion_events


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def serving():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens: connection refused
    return f"http://127.0.0.1:{port}/health"


def _urls(monkeypatch, urls):
    monkeypatch.setattr(promote_mod, "primary_health_urls", lambda lab: urls)


def test_fake_primary_serving_refuses_an_operator_promotion_naming_the_instance(monkeypatch, serving, closed_port):
    _urls(monkeypatch, {"api-a": closed_port, "api-b": serving})
    with pytest.raises(promote_mod.PrimaryServes) as info:
        promote_mod.guard_primary_down(object(), force=False)
    assert "api-b answer /health" in str(info.value) and "api-a" not in str(info.value)
    assert "--force" in info.value.hint


def test_fake_primary_serving_forced_promotion_goes_on_and_says_so(monkeypatch, serving):
    _urls(monkeypatch, {"api-a": serving})
    assert promote_mod.guard_primary_down(object(), force=True) == "forced while the primary still served (api-a answered /health)"


def test_fake_primary_down_lets_the_promotion_go_on_with_nothing_to_note(monkeypatch, closed_port):
    _urls(monkeypatch, {"api-a": closed_port, "api-b": closed_port})
    assert promote_mod.guard_primary_down(object(), force=False) == ""


def test_fake_lab_forced_promotion_is_on_the_decisions_record(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setitem(promote_mod.STEPS, (Action.START, "api"), lambda lab, st, ctx: ran.append("api") or "started")
    lab = SimpleNamespace(home=tmp_path, require_state=lambda: None, context=lambda st: SimpleNamespace(tiers=("redis", "search", "dr")))
    plan = Plan("p.yaml", (Step(Action.START, "api"),))
    assert promote_mod.promote(lab, plan, "operator", lambda m: None, note="forced while the primary still served (api-a answered /health)")
    decided = [e for e in promotion_events(tmp_path) if e.phase is PromotionPhase.DECIDED]
    assert ran == ["api"] and decided[0].detail.startswith("forced while the primary")
    assert decided[0].needs == "restore index, start api, switch entry"  # the lab searches an index
    with pytest.raises(promote_mod.AlreadyPromoted):
        promote_mod.promote(lab, plan, "operator", lambda m: None)
