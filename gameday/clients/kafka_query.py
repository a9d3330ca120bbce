"""`python -m gameday.clients.kafka_query BOOTSTRAP [TOPIC]`: the topic's partitions, leaders and
ISRs as JSON on stdout. Chaos Toolkit actions run inside the harness process, where
librdkafka clients crashed it; they ask the cluster through this short-lived process."""

from __future__ import annotations

import json
import os
import sys

from flightsearch import RAW_TOPIC


def main() -> None:
    from gameday.clients.kafka import describe_topic

    bootstrap, topic = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else RAW_TOPIC)
    try:
        print(json.dumps(describe_topic(bootstrap, topic)), flush=True)
        code = 0
    except Exception as exc:
        print(f"describe {topic}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    os._exit(code)  # no librdkafka teardown


if __name__ == "__main__":
    main()
