"""The platform's stream job, submitted with `flink run -py` (PyFlink Table API, pure SQL:
no Python UDFs, so every record stays in the JVM and no Python worker runs per slot).

    supplier.raw ──► archive   (raw events lake: JSON files, committed on checkpoint)
                 └─► dedupe (first row per event_id, 1 h state TTL)
                     ► normalise + enrich (carrier, departure date, price in GBP pence)
                     ► prices.normalized  (GAMEDAY_DELIVERY, the sink's guarantee:
                                           exactly-once: Kafka transactions committed on
                                             checkpoint, each event once for read_committed
                                             consumers, visible at the checkpoint;
                                           at-least-once: written as processed, flushed on
                                             checkpoint, repeated after a restore)

Runs in Flink's own virtualenv: it must not import gameday. Settings come from the
environment the lab sets (GAMEDAY_KAFKA, GAMEDAY_ARCHIVE, GAMEDAY_PARALLELISM,
GAMEDAY_DELIVERY; the profile's `stream.delivery`).
The source reads the group's committed offsets (earliest on first start), or the offsets
GAMEDAY_START_OFFSETS names (a job resumed in the DR region), and a restart from a
checkpoint or savepoint resumes from the offsets in that snapshot.
"""

import os

from pyflink.table import EnvironmentSettings, TableEnvironment

KAFKA = os.environ["GAMEDAY_KAFKA"]
ARCHIVE = os.environ["GAMEDAY_ARCHIVE"]
NAME = os.environ.get("GAMEDAY_JOB_NAME", "gameday-price-stream")
GROUP = os.environ.get("GAMEDAY_JOB_GROUP", "gameday-stream")
OUTPUT = os.environ.get("GAMEDAY_OUTPUT_TOPIC", "prices.normalized")  # flightsearch.OUTPUT_TOPIC (the job runs in Flink's own Python)
DELIVERY = os.environ.get("GAMEDAY_DELIVERY", "exactly-once")
if DELIVERY not in ("exactly-once", "at-least-once"):
    raise SystemExit(f"GAMEDAY_DELIVERY must be exactly-once or at-least-once, got {DELIVERY!r}")
# Transactions only for exactly-once: their id prefix names them, and their timeout must
# outlast a restore (the broker aborts an open transaction after it).
TRANSACTIONS = (f",\n  'sink.transactional-id-prefix' = '{NAME}',\n  'properties.transaction.timeout.ms' = '900000'"
                if DELIVERY == "exactly-once" else "")

# GAMEDAY_START_OFFSETS ("partition:0,offset:42;partition:1,offset:7"): where a job resumed
# in the DR region starts (gameday.lab.dr.stream works it out); otherwise the group's offsets.
START = os.environ.get("GAMEDAY_START_OFFSETS", "")
STARTUP = (f"'scan.startup.mode' = 'specific-offsets',\n  'scan.startup.specific-offsets' = '{START}'" if START
           else "'scan.startup.mode' = 'group-offsets'")

# request.timeout.ms on the sink: a cancelled writer aborts its transaction only once its
# in-flight produce requests end, and to a broker cut off in an AZ partition they end at the
# timeout (30 s by default): the job's restart waited that long for the writer's slot.
# socket.connection.setup.timeout: every client the job makes (the restored writer's
# committer, the aborter of lingering transactions, each source reader) first tries a
# bootstrap broker, and one cut off in an AZ partition drops the SYN: at the default 10 s per
# attempt, two of them in a row held a restored sink task in INITIALIZING for 22 s of a
# 52 s recovery (az-partition, 2026-12-01). Connections here take milliseconds.
CONNECT = ("\n  'properties.socket.connection.setup.timeout.ms' = '1500',"
           "\n  'properties.socket.connection.setup.timeout.max.ms' = '4000',")

t = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
conf = t.get_config()
conf.set("pipeline.name", NAME)
conf.set("parallelism.default", os.environ.get("GAMEDAY_PARALLELISM", "3"))
# Duplicates arrive within seconds (producer retries, replays after a restore); an hour
# of event ids bounds the dedupe state.
conf.set("table.exec.state.ttl", "1 h")

# source.reader.close.timeout: how long a cancelled source waits for its Kafka consumer
# to close (default 30 s, the consumer's own close timeout while its group coordinator is
# unreachable, as in an AZ partition), holding its slot and the job's restart with it.
# request.timeout.ms: a fetch from a leader cut off in a partition hung for the default 30 s.
t.execute_sql(f"""
CREATE TABLE supplier_raw (
  event_id STRING, supplier STRING, seq BIGINT, `type` STRING, flight_id STRING,
  amount_pence BIGINT, currency STRING, seats INT, supplier_ts DOUBLE, produced_at DOUBLE,
  kafka_partition INT METADATA FROM 'partition' VIRTUAL,
  kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
  proc AS PROCTIME()
) WITH (
  'connector' = 'kafka', 'topic' = 'supplier.raw',
  'properties.bootstrap.servers' = '{KAFKA}',
  'properties.group.id' = '{GROUP}',
  {STARTUP},
  'properties.auto.offset.reset' = 'earliest',
  'properties.source.reader.close.timeout' = '5000',
  'properties.request.timeout.ms' = '10000',{CONNECT}
  'format' = 'json', 'json.ignore-parse-errors' = 'true')""")

t.execute_sql(f"""
CREATE TABLE archive (
  event_id STRING, supplier STRING, seq BIGINT, `type` STRING, flight_id STRING,
  amount_pence BIGINT, currency STRING, seats INT, supplier_ts DOUBLE, produced_at DOUBLE,
  kafka_partition INT, kafka_offset BIGINT
) WITH (
  'connector' = 'filesystem', 'path' = '{ARCHIVE}', 'format' = 'json',
  'sink.rolling-policy.rollover-interval' = '10 s',
  'sink.rolling-policy.check-interval' = '5 s',
  'sink.rolling-policy.file-size' = '64MB')""")
# A part file rolls once it is 10 s old (checked every 5 s; the default check is every
# minute, which held events out of the lake for up to 90 s) and is committed by the next
# completed checkpoint: an event is in the lake at most ~15 s + one checkpoint interval
# after the job read it.

t.execute_sql(f"""
CREATE TABLE normalized (
  event_id STRING, supplier STRING, seq BIGINT, flight_id STRING, carrier STRING,
  departs_on STRING, amount_pence BIGINT, currency STRING, amount_gbp_pence BIGINT,
  seats INT, supplier_ts DOUBLE, produced_at DOUBLE, processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'kafka', 'topic' = '{OUTPUT}',
  'properties.bootstrap.servers' = '{KAFKA}',
  'properties.request.timeout.ms' = '8000',{CONNECT}
  'key.format' = 'raw', 'key.fields' = 'flight_id',
  'value.format' = 'json',
  'sink.delivery-guarantee' = '{DELIVERY}'{TRANSACTIONS})""")

statements = t.create_statement_set()
statements.add_insert_sql("""
INSERT INTO archive
SELECT event_id, supplier, seq, `type`, flight_id, amount_pence, currency, seats,
       supplier_ts, produced_at, kafka_partition, kafka_offset
FROM supplier_raw""")
statements.add_insert_sql("""
INSERT INTO normalized
SELECT event_id, supplier, seq, flight_id, SUBSTRING(flight_id FROM 1 FOR 2) AS carrier,
       REGEXP_EXTRACT(flight_id, '-([0-9]{8})$', 1) AS departs_on,
       amount_pence, UPPER(currency) AS currency,
       CAST(amount_pence * CASE UPPER(currency) WHEN 'EUR' THEN 0.86 WHEN 'USD' THEN 0.79 ELSE 1.0 END AS BIGINT),
       seats, supplier_ts, produced_at, CURRENT_TIMESTAMP
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proc ASC) AS rn
  FROM supplier_raw
  WHERE event_id IS NOT NULL AND flight_id IS NOT NULL AND amount_pence > 0
) WHERE rn = 1""")
statements.execute()
