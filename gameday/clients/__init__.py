"""Protocol-level clients (Kafka, Flink, Redis) that any target can use to ask the system."""
