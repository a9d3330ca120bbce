"""A minimal PyFlink Table API job for the lab tests: Kafka source on supplier.raw
(bootstrap from GAMEDAY_KAFKA), a keyed count in RocksDB state, a blackhole sink."""

import os

from pyflink.table import EnvironmentSettings, TableEnvironment

t = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
t.get_config().set("pipeline.name", "gameday-smoke")
t.get_config().set("parallelism.default", "3")
t.execute_sql(f"""
CREATE TABLE src (event_id STRING, supplier STRING, seq BIGINT, amount_pence INT) WITH (
  'connector' = 'kafka', 'topic' = 'supplier.raw',
  'properties.bootstrap.servers' = '{os.environ["GAMEDAY_KAFKA"]}',
  'properties.group.id' = 'gameday-smoke', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'json', 'json.ignore-parse-errors' = 'true')""")
t.execute_sql("CREATE TABLE sink (supplier STRING, n BIGINT) WITH ('connector' = 'blackhole')")
t.execute_sql("INSERT INTO sink SELECT supplier, COUNT(*) FROM src GROUP BY supplier")
