"""Prometheus metrics of `vigil store` (base units, no ids in labels; topic labels carry the base
topic name without the run's prefix). Its consumer lag is `vigil_consumer_lag_records` with
group `<app id>-store`, read by the shared lag probe."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STORE_TABLES = ("ads", "identifiers", "images", "clusters", "cluster_ads", "alerts")

RECORDS = Counter("vigil_store_records_total", "Records the store consumed, by topic and outcome "
                  "(stored, dead_lettered)", ["topic", "outcome"])
ROWS_WRITTEN = Counter("vigil_store_rows_written_total", "Rows inserted or changed by the store, by table",
                       ["table"])
ROWS_DELETED = Counter("vigil_store_rows_deleted_total", "Rows the retention purge deleted, by table", ["table"])
BATCH_SECONDS = Histogram("vigil_store_batch_seconds", "Time to write one batch to the database",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
RECORD_DELAY_SECONDS = Histogram(
    "vigil_store_record_delay_seconds",
    "From a record's Kafka timestamp to its commit in the store's database",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900))
BEHIND_SECONDS = Gauge("vigil_store_behind_seconds",
                       "Age of the oldest record in the last batch written (0 when a poll found nothing new)")
DB_RETRIES = Counter("vigil_store_db_retries_total", "Batches retried because the database was unavailable")


def initialise_store_series() -> None:
    """Every labelled series at zero before the first record (rate() needs an earlier sample)."""
    for topic in ("ads.scored", "alerts"):
        for outcome in ("stored", "dead_lettered"):
            RECORDS.labels(topic, outcome)
    for table in STORE_TABLES:
        ROWS_WRITTEN.labels(table)
