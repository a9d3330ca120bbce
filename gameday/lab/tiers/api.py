"""The flight-search API: instances in every AZ behind a health-checking HAProxy."""

from __future__ import annotations

import sys

from gameday.lab.components import ComponentSpec, http_check
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.lab.tiers.cassandra import store_addresses
from gameday.lab.tiers.redis import sentinel_name  # noqa: F401  (naming shared with monitors)
from gameday.target import Role

LB_NAME = "haproxy"


def instance_names(ctx: LabContext) -> list[tuple[str, str]]:
    """(name, az) of every API instance."""
    per_az = ctx.profile.get("api.instances_per_az")
    return [(f"api-{az[-1]}{i}" if per_az > 1 else f"api-{az[-1]}", az) for az in AZS for i in range(per_az)]


def lb_url(ctx: LabContext) -> str:
    return f"http://127.0.0.1:{ctx.profile.get('haproxy.port')}"


def specs(ctx: LabContext, search_urls: list[str] | None = None) -> list[ComponentSpec]:
    """`search_urls`: the search index's nodes, when the lab has one (the API then lists
    flights from it; without, from the store)."""
    p, topo = ctx.profile, ctx.topology
    sentinels = ",".join(f"{topo.address(az)}:{p.get('redis.sentinel.port')}" for az in AZS)
    base_port = p.get("api.port")
    out = []
    servers = []
    for index, (name, az) in enumerate(instance_names(ctx)):
        addr = topo.address(az)
        port = base_port + index // len(AZS) if p.get("api.instances_per_az") > 1 else base_port
        argv = [
            sys.executable, "-m", "flightsearch.api",
            "--listen", f"{addr}:{port}",
            "--instance", name,
            "--sentinels", sentinels,
            "--service", p.get("redis.sentinel.service"),
            "--cassandra", ",".join(store_addresses(ctx)),
            "--cassandra-port", str(p.get("cassandra.native_port")),
            "--keyspace", p.get("cassandra.keyspace"),
            "--consistency", p.get("cassandra.read_consistency"),
            "--ttl", str(p.get("redis.ttl_s")),
        ]  # fmt: skip
        if search_urls:
            argv += ["--search", ",".join(search_urls), "--search-index", p.get("search.index")]
        out.append(ComponentSpec(name, "api", az, argv, http_check(f"http://{addr}:{port}/health"), addr, port, role=Role.API))
        servers.append(f"  server {name} {addr}:{port} check")
    if "dr" in ctx.tiers:
        # The DR region's instance, out of rotation (MAINT) until the promotion switches the
        # entry point to it (admin_command): the global load balancer's failover.
        from gameday.lab.tiers import dr

        servers.append(f"  server {dr.API} {dr.address(ctx)}:{base_port} check disabled")
    conf = ctx.conf_dir(LB_NAME) / "haproxy.cfg"
    interval = p.get("haproxy.check_interval_ms")
    conf.write_text(
        f"""global
  maxconn 4000
  nbthread 1
  stats socket {admin_socket(ctx)} mode 600 level admin
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 5s
  retries 2
  option redispatch
  # A search is an idempotent GET: one whose connection was refused, or closed without an
  # answer (the instance died with it in flight), goes to another instance. Without this an
  # API instance's death showed clients a 502 for each search it had in flight. A 503 (the
  # instance could not reach the index or the store: its AZ cut off) is retried elsewhere
  # too, for the seconds until the health check takes the instance out.
  retry-on conn-failure empty-response 503
frontend search
  bind 127.0.0.1:{p.get('haproxy.port')}
  default_backend api
frontend static
  bind 127.0.0.1:{p.get('haproxy.static_port')}
  http-request return status 200 content-type text/plain string ok
frontend stats
  bind 127.0.0.1:{p.get('haproxy.stats_port')}
  http-request use-service prometheus-exporter if {{ path /metrics }}
  stats enable
  stats uri /stats
backend api
  balance roundrobin
  option httpchk GET /health
  http-check expect status 200
  timeout check {p.get('haproxy.check_timeout_ms')}ms
  default-server inter {interval}ms fastinter {interval}ms downinter {interval}ms fall {p.get('haproxy.check_fall')} rise 2
"""
        + "\n".join(servers)
        + "\n"
    )
    out.append(ComponentSpec(LB_NAME, "api", "", ["haproxy", "-db", "-f", str(conf)], http_check(f"{lb_url(ctx)}/health"), "127.0.0.1", p.get("haproxy.port"), role=Role.LOAD_BALANCER))
    return out


def admin_socket(ctx: LabContext):  # noqa: ANN201 - pathlib.Path
    return ctx.conf_dir(LB_NAME) / "admin.sock"


def admin_command(ctx: LabContext, command: str, timeout_s: float = 5.0) -> str:
    """One command on HAProxy's runtime API (its admin socket); its answer."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(admin_socket(ctx)))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def static_url(ctx: LabContext) -> str:
    """An endpoint HAProxy answers itself: the ceiling of a load generator, without the platform."""
    return f"http://127.0.0.1:{ctx.profile.get('haproxy.static_port')}"


def backend_states(csv_text: str) -> dict[str, str]:
    """Server -> status ("UP", "DOWN", "UP 1/3" while failing checks, "MAINT", ...) of the
    `api` backend in HAProxy's `stats;csv` output."""
    lines = csv_text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    px, sv, status = header.index("pxname"), header.index("svname"), header.index("status")
    out = {}
    for line in lines[1:]:
        row = line.split(",")
        if len(row) > status and row[px] == "api" and row[sv] not in ("FRONTEND", "BACKEND"):
            out[row[sv]] = row[status]
    return out
