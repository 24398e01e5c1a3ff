"""`vigil store`: every scored ad and alert from Kafka into a database the console searches
(schema and migrations, batched idempotent writes, queries, retention)."""
