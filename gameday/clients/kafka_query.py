"""`python -m gameday.clients.kafka_query BOOTSTRAP [TOPIC]`: the topic's partitions, leaders and
ISRs as JSON on stdout. `... BOOTSTRAP --elect-preferred`: leaderships back on their preferred
replicas, one line per partition moved. Chaos Toolkit actions run inside the harness process,
where librdkafka clients crashed it; they ask the cluster through this short-lived process."""

from __future__ import annotations

import json
import os
import sys

from flightsearch import RAW_TOPIC

ELECT = "--elect-preferred"


def main() -> None:
    from gameday.clients.kafka import describe_topic, elect_preferred

    bootstrap, what = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else RAW_TOPIC)
    try:
        if what == ELECT:
            print(json.dumps(elect_preferred(bootstrap)), flush=True)
        else:
            print(json.dumps(describe_topic(bootstrap, what)), flush=True)
        code = 0
    except Exception as exc:
        print(f"{what}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    os._exit(code)  # no librdkafka teardown


if __name__ == "__main__":
    main()
