"""Unit tests for gameday.lab.tiers.cassandra_node that never start Cassandra (no JVM, no Maven)."""

import subprocess
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from gameday.lab.tiers import cassandra_node as cn


@pytest.fixture
def fake_jars(tmp_path: Path) -> Path:
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "cassandra-all-5.0.9.jar").touch()
    (jars / "jamm-0.4.0.jar").touch()
    return jars


def test_write_node_config_no_jvm(tmp_path: Path) -> None:
    node = tmp_path / "node2"
    path = cn.write_node_config(node, cluster_name="lab", listen_address="127.0.0.2",
                                seeds=["127.0.0.1", "127.0.0.9:7001"],
                                initial_token=cn.ring_tokens(3)[1], auto_bootstrap=False,
                                overrides={"concurrent_reads": 2})
    conf = yaml.safe_load(path.read_text())
    assert conf["cluster_name"] == "lab"
    assert conf["listen_address"] == conf["rpc_address"] == "127.0.0.2"
    assert (conf["storage_port"], conf["native_transport_port"]) == (7000, 9042)
    seeds = conf["seed_provider"][0]["parameters"][0]["seeds"]
    assert seeds == "127.0.0.1:7000,127.0.0.9:7001"
    assert conf["initial_token"] == "-3074457345618258603"
    assert conf["num_tokens"] == 1 and conf["auto_bootstrap"] is False
    assert conf["auto_snapshot"] is False and conf["concurrent_reads"] == 2
    dirs = [conf[k] for k in ("commitlog_directory", "saved_caches_directory",
                              "hints_directory", "cdc_raw_directory")]
    for d in dirs + conf["data_file_directories"]:
        assert Path(d).is_relative_to(node.resolve()), d
    logback = (node / "conf" / "logback.xml").read_text()
    assert str((node / "logs").resolve()) in logback
    assert (node / "triggers").is_dir()


def test_defaults_suit_a_fresh_lab_cluster_no_jvm(tmp_path: Path) -> None:
    # Nodes started together must not bootstrap (Cassandra refuses concurrent joins).
    conf = cn.node_settings(tmp_path, cluster_name="lab", listen_address="127.0.0.3",
                            seeds=["127.0.0.1"])
    assert conf["auto_bootstrap"] is False and conf["num_tokens"] == 1
    assert "allocate_tokens_for_local_replication_factor" not in conf


def test_ring_tokens_are_evenly_spaced_no_jvm() -> None:
    tokens = [int(t) for t in cn.ring_tokens(4)]
    assert tokens[0] == -(2**63)
    assert len({b - a for a, b in pairwise(tokens)}) == 1
    assert all(-(2**63) <= t < 2**63 for t in tokens)


def test_command_argv_no_jvm(tmp_path: Path, fake_jars: Path) -> None:
    node = tmp_path / "node1"
    cn.write_node_config(node, cluster_name="lab", listen_address="127.0.0.1",
                         seeds=["127.0.0.1"])
    argv = cn.command(fake_jars, node, heap_mb=256, jmx_port=7199,
                      extra_jvm_opts=["-Dcassandra.consistent.rangemovement=false"])
    assert argv[0] == "java" and argv[-1] == cn.MAIN_CLASS
    assert argv[argv.index("-cp") + 1] == f"{fake_jars.resolve()}/*"
    assert "-Xmx256m" in argv and "-Dcassandra-foreground=yes" in argv
    # Every JPMS flag from jvm17-server.options must be present, as flag/value pairs.
    pairs = set(pairwise(argv))
    for flag, value in pairwise(cn.JVM17_OPTS):
        if flag in ("--add-exports", "--add-opens"):
            assert (flag, value) in pairs
    assert ("--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED") in pairs
    yaml_uri = (node / "conf" / "cassandra.yaml").resolve().as_uri()
    assert f"-Dcassandra.config={yaml_uri}" in argv
    assert any(a.startswith("-javaagent:") and a.endswith("jamm-0.4.0.jar") for a in argv)
    assert any(a.startswith("-Dlogback.configurationFile=file:") for a in argv)
    assert "-Dcassandra.jmx.local.port=7199" in argv
    assert "-Dcassandra.ring_delay_ms=5000" in argv
    assert argv.index("-Dcassandra.consistent.rangemovement=false") < argv.index("-cp")


def test_command_defaults_jmx_off_no_jvm(tmp_path: Path, fake_jars: Path) -> None:
    argv = cn.command(fake_jars, tmp_path, ring_delay_ms=None)
    assert not any(a.startswith(("-Dcassandra.jmx", "-Dcom.sun.management")) for a in argv)
    assert not any("ring_delay" in a for a in argv)


def test_command_without_jars_fails_clearly_no_jvm(tmp_path: Path) -> None:
    with pytest.raises(cn.CassandraSetupError, match="ensure_jars"):
        cn.command(tmp_path, tmp_path)


def test_ensure_jars_skips_maven_when_marker_matches_no_jvm(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from gameday.lab.jvm import maven

    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    jars = tmp_path / "cache" / "cassandra-jars"
    jars.mkdir(parents=True)
    (jars / ".complete").write_text(hashlib.sha256(pom.read_bytes()).hexdigest() + "\n")

    def no_maven(*a: object, **k: object) -> None:
        raise AssertionError("Maven must not run when the marker matches")

    monkeypatch.setattr(subprocess, "run", no_maven)
    assert maven.ensure_jars("cassandra", "cassandra-all-*.jar", cache=tmp_path / "cache", pom=pom) == jars


def test_every_pom_ships_with_the_package_no_jvm() -> None:
    from gameday.lab.jvm import maven

    for name in ("cassandra", "flink", "kafka", "zookeeper"):
        assert maven.pom_path(name).is_file(), name
