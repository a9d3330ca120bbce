"""Prometheus scraping every tier, with the host and Redis exporters from Debian."""

from __future__ import annotations

import yaml

from gameday.lab.components import ComponentSpec, http_check
from gameday.lab.network import AZS
from gameday.lab.tiers import LabContext
from gameday.target import Role


def specs(ctx: LabContext, api_targets: list[str]) -> list[ComponentSpec]:
    p, topo = ctx.profile, ctx.topology
    prom, node, rex = p.get("prometheus.port"), p.get("prometheus.node_exporter_port"), p.get("prometheus.redis_exporter_port")
    redis_targets = [f"redis://{topo.address(az)}:{p.get('redis.port')}" for az in AZS]
    interval = f"{p.get('prometheus.scrape_interval_s')}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": "api", "static_configs": [{"targets": api_targets}]},
            {"job_name": "haproxy", "static_configs": [{"targets": [f"127.0.0.1:{p.get('haproxy.stats_port')}"]}]},
            {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{node}"]}]},
            {
                "job_name": "redis",
                "metrics_path": "/scrape",
                "static_configs": [{"targets": redis_targets}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"127.0.0.1:{rex}"},
                ],
            },
        ],
    }
    conf = ctx.conf_dir("prometheus") / "prometheus.yml"
    conf.write_text(yaml.safe_dump(config, sort_keys=False))
    data = ctx.data_dir("prometheus")
    return [
        ComponentSpec(
            "node-exporter", "metrics", "",
            ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node}", "--collector.disable-defaults",
             "--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.netdev", "--collector.stat"],
            http_check(f"http://127.0.0.1:{node}/metrics"), "127.0.0.1", node, role=Role.METRICS,
        ),
        ComponentSpec(
            "redis-exporter", "metrics", "",
            ["prometheus-redis-exporter", "-web.listen-address", f"127.0.0.1:{rex}", "-redis.addr", redis_targets[0]],
            http_check(f"http://127.0.0.1:{rex}/metrics"), "127.0.0.1", rex, role=Role.METRICS,
        ),
        ComponentSpec(
            "prometheus", "metrics", "",
            ["prometheus", f"--config.file={conf}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{prom}",
             "--storage.tsdb.retention.time=2d", "--log.level=warn"],
            http_check(f"http://127.0.0.1:{prom}/-/ready"), "127.0.0.1", prom, role=Role.METRICS,
        ),
    ]  # fmt: skip
