"""Object storage's cross-region replication as the lab stands it in (gameday.lab.dr.sync),
on directories made here: what is copied (committed lake files, complete checkpoints and
savepoints), what is not (files being written, a checkpoint without its _metadata), each
copy once, and the newest checkpoints kept."""

from __future__ import annotations

from pathlib import Path

from gameday.lab.dr import sync


def _file(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_only_the_lakes_committed_files_are_copied_and_each_once(tmp_path):
    src, dst = tmp_path / "lake", tmp_path / "dr-lake"
    _file(src / "part-a-0-0", '{"supplier": "s", "seq": 1}\n')
    _file(src / ".part-a-0-1.inprogress.123")
    _file(src / "dt=2026" / "part-b-1-0")
    assert sync.sync_lake(src, dst) == 2
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == ["dt=2026/part-b-1-0", "part-a-0-0"]
    assert (dst / "part-a-0-0").read_text() == '{"supplier": "s", "seq": 1}\n'
    assert sync.sync_lake(src, dst) == 0
    _file(src / "part-a-0-1")  # the in-progress file committed
    assert sync.sync_lake(src, dst) == 1


def test_a_missing_lake_copies_nothing(tmp_path):
    assert sync.sync_lake(tmp_path / "none", tmp_path / "dst") == 0


def test_only_complete_checkpoints_are_copied_and_the_newest_kept(tmp_path):
    src, dst = tmp_path / "checkpoints", tmp_path / "dr"
    for n in range(1, 6):
        _file(src / "job1" / f"chk-{n}" / "state-0")
        _file(src / "job1" / f"chk-{n}" / sync.METADATA)
    _file(src / "job1" / "chk-6" / "state-0")  # being written: no _metadata yet
    _file(src / "job1" / "shared" / "sst-1")
    assert sync.sync_snapshots(src, dst) == 3  # the newest three: older ones would be pruned at once
    kept = sorted(p.name for p in (dst / "job1").iterdir() if p.name.startswith("chk-"))
    assert kept == ["chk-3", "chk-4", "chk-5"] and (dst / "job1" / "chk-5" / sync.METADATA).is_file()
    assert (dst / "job1" / "shared" / "sst-1").is_file()
    assert sync.newest_checkpoint(dst) == "job1/chk-5"
    assert sync.sync_snapshots(src, dst) == 0


def test_a_savepoint_is_copied_whole(tmp_path):
    src, dst = tmp_path / "savepoints", tmp_path / "dr"
    _file(src / "savepoint-abc" / "op-1")
    _file(src / "savepoint-abc" / sync.METADATA)
    assert sync.sync_snapshots(src, dst) == 1
    assert (dst / "savepoint-abc" / "op-1").is_file() and sync.complete_snapshots(dst) == [Path("savepoint-abc")]


def test_a_pass_reports_what_the_region_holds_and_its_status_is_written_atomically(tmp_path):
    lake, flink = tmp_path / "lake", tmp_path / "flink"
    _file(lake / "part-a-0-0")
    _file(flink / "checkpoints" / "job1" / "chk-2" / sync.METADATA)
    _file(flink / "savepoints" / "savepoint-1" / sync.METADATA)
    done = sync.one_pass((lake, tmp_path / "r-lake"), (flink, tmp_path / "r-flink"))
    assert (done.lake_copied, done.lake_files, done.snapshots_copied, done.newest_checkpoint, done.savepoints) == (1, 1, 2, "job1/chk-2", 1)
    sync.write_status(tmp_path / "status", done)
    st = sync.read_status(tmp_path / "status")
    assert st["lake_files"] == 1 and st["error"] == "" and not list((tmp_path / "status").glob(".*"))
    assert sync.read_status(tmp_path / "nowhere") is None


# --- where a job resumed in the region starts (gameday.lab.dr.stream) -------------------------


def test_the_lake_is_whole_below_its_first_hole_per_partition(tmp_path):
    from gameday.lab.dr.stream import lake_ends

    rows = [(0, o) for o in (0, 1, 2, 3, 5)] + [(1, o) for o in (7, 8, 9)]
    _file(tmp_path / "part-a-0-0", "".join(f'{{"kafka_partition": {p}, "kafka_offset": {o}}}\n' for p, o in rows[:4]))
    _file(tmp_path / "part-a-0-1", "".join(f'{{"kafka_partition": {p}, "kafka_offset": {o}}}\n' for p, o in rows[4:]) + "not json\n")
    _file(tmp_path / ".part-a-0-2.inprogress", '{"kafka_partition": 0, "kafka_offset": 4}\n')  # not committed: not the region's
    assert lake_ends(tmp_path) == {0: 4, 1: 10}
    assert lake_ends(tmp_path / "none") == {}


def test_a_primary_offset_maps_to_the_mirror_as_mirrormaker_translates_never_past_it():
    from gameday.lab.dr.stream import start_offsets, to_mirror

    syncs = [(0, 0), (11, 9), (22, 20)]  # the mirror lost two records before upstream 11
    assert to_mirror(syncs, 22) == 20  # the sync names the record
    assert to_mirror(syncs, 30) == 21  # past a sync: one past its downstream (re-reads 21..27)
    assert to_mirror(syncs, 5) == 1 and to_mirror([], 5) == 0 and to_mirror([(10, 10)], 5) == 0
    # a partition the lake holds nothing of is read from the mirror's start
    assert start_offsets([0, 1, 2], {0: 30, 1: 11}, {0: syncs, 1: syncs}) == {0: 21, 1: 9, 2: 0}
