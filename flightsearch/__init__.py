"""flightsearch: the platform under test, a miniature of the plan's flight-search platform.

The search API (`api`), the supplier ingestion adapters (`ingest`), the stream job
(`jobs/price_stream.py`), the price applier (`stream_apply`) and the timetable they all
share (`timetable`). It imports nothing from the harness (gameday): the harness deploys
it in the lab, breaks it and measures it, from outside.

The names below are the platform's public contract: the harness reads the same topics.
"""

# Supplier events, canonical JSON, as the ingestion adapters produce them.
RAW_TOPIC = "supplier.raw"
# The stream job's exactly-once output (Kafka transactions), read by the price applier.
OUTPUT_TOPIC = "prices.normalized"
# The price applier's consumer group on OUTPUT_TOPIC.
APPLIER_GROUP = "gameday-apply"
