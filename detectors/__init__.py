"""The functional core: pure detection logic, no Kafka, no Redis, no network."""
