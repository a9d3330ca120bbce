"""Flink clients any target can use: the leading JobManager as Flink's ZooKeeper HA
records it, and its REST API."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def rest_leader_path(ha_root: str, cluster_id: str) -> str:
    """Where Flink (>= 1.15) keeps the REST endpoint's leader record in ZooKeeper."""
    return f"{ha_root}/{cluster_id}/leader/rest_server/connection_info"


def read_leader_record(data: bytes) -> str | None:
    """The address in Flink's leader record: ObjectOutputStream.writeUTF in a block-data record."""
    i = data.find(b"\x77")  # TC_BLOCKDATA
    if data[:2] != b"\xac\xed" or i < 0 or len(data) < i + 4:
        return None
    length = int.from_bytes(data[i + 2 : i + 4], "big")
    return data[i + 4 : i + 4 + length].decode("utf-8", errors="replace")


def rest_leader(zk_quorum: str, path: str, timeout_s: float = 2.0) -> str | None:
    """The leading JobManager's REST URL as ZooKeeper names it, or None if no leader is known."""
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException
    from kazoo.handlers.threading import KazooTimeoutError

    client = KazooClient(hosts=zk_quorum, timeout=timeout_s, connection_retry={"max_tries": 1}, command_retry={"max_tries": 1})
    client.logger.disabled = True
    try:
        client.start(timeout=timeout_s)
        data, _ = client.get(path)
        return read_leader_record(data) if data else None
    except (KazooException, KazooTimeoutError, OSError):
        return None
    finally:
        try:
            client.stop()
            client.close()
        except Exception:
            pass


def rest_get(url: str, timeout_s: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return json.loads(resp.read())
