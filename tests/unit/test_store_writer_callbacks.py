"""The store writer records one outcome per write, whatever the driver calls back. FAKE
callbacks stand in for the Cassandra driver's (no store is needed for this)."""

from __future__ import annotations

from gameday.history import History, Recorder, StoreWrite
from gameday.monitors.store import StoreWriter


def test_fake_driver_calling_back_twice_records_the_first_outcome_only(tmp_path):
    recorder = Recorder(tmp_path / "history.jsonl")
    writer = StoreWriter(recorder, ["127.0.0.1"], 9042, "flights", "LOCAL_QUORUM", ["f1", "f2"], rate=1)
    ok, failed = writer._callbacks("f1", 1, 100.0)
    ok([])  # the speculative attempt's success...
    failed(RuntimeError("WriteTimeout: received only 1 responses"))  # ...then the first attempt's late error
    ok2, failed2 = writer._callbacks("f2", 2, 101.0)
    failed2(RuntimeError("NoHostAvailable"))
    ok2([])
    recorder.close()
    writes = History.read(tmp_path / "history.jsonl").of(StoreWrite)
    assert [(w.key, w.ok) for w in writes] == [("f1", True), ("f2", False)]
