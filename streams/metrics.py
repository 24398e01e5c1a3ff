"""Prometheus metrics (base units, `vigil_` prefix, no ids or PII in labels).

Label values are bounded sets: severities, reason families, indicator categories, bank names,
destination names from the routing config, dead-letter stages and codes, topic base names
(without the run's topic prefix) and partition numbers. Never an ad id, phone or free text.
The dispatcher's delivery metrics live beside its code in streams/dispatch.py.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram, Info, start_http_server

from detectors.scoring.scorer import SEVERITIES

STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
END_TO_END_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)

# ---------------------------------------------------------------- intake

ADS_INGESTED = Counter("vigil_ads_ingested_total", "Records produced onto ads.raw, by producer",
                       ["source"])
ADS_REJECTED = Counter("vigil_ads_rejected_total",
                       "Records the HTTP endpoint refused (400), by error code", ["error_code"])
ADS_UNAUTHORIZED = Counter("vigil_ingest_unauthorized_total",
                           "POST /ads requests refused (401) for a missing or invalid bearer token",
                           ["reason"])
ADS_CONSUMED = Counter("vigil_ads_consumed_total", "Records read from ads.raw")
ADS_VALIDATED = Counter("vigil_ads_validated_total", "Records that passed validation")
ADS_SCORED = Counter("vigil_ads_scored_total", "Ads scored, by severity", ["severity"])
ADS_REDELIVERED = Counter(
    "vigil_ads_redelivered_total",
    "Ads seen again after a crash or rebalance (at-least-once): their stored result re-emitted")
OUTAGE_RETRIES = Counter(
    "vigil_outage_retries_total",
    "Retries of the worker while a service was unreachable (redis, kafka); the ad waits",
    ["service"])
ADS_DEAD_LETTERED = Counter(
    "vigil_ads_dead_lettered_total", "Records sent to ads.dlq, by stage and error code",
    ["stage", "error_code"],
)

# ---------------------------------------------------------------- detection

ALERTS = Counter("vigil_alerts_total", "Alerts produced, by severity and top reason family",
                 ["severity", "family"])
ALERTS_SUPPRESSED = Counter("vigil_alerts_suppressed_total", "Alerts folded by cluster policy")
INDICATOR_HITS = Counter("vigil_indicator_hits_total", "Indicator matches in ads, by category",
                         ["category"])
IMAGE_ERRORS = Counter("vigil_image_errors_total", "Per-image errors, by code", ["error"])
BANK_MATCHES = Counter("vigil_bank_matches_total", "Hash-bank matches, by bank", ["bank"])
BANK_ENTRIES = Gauge("vigil_bank_entries", "Entries loaded in the worker's hash banks, by bank",
                     ["bank"])
CLUSTER_SIZE = Histogram("vigil_cluster_size", "Size of the linked cluster a scored ad belongs to",
                         buckets=(1, 2, 3, 5, 10, 20, 50, 100, 500))
CLUSTER_JOINS = Counter("vigil_cluster_joins_total",
                        "Scored ads linked into a cluster of two or more ads (clusters growing)")
MODEL_INFO = Info("vigil_model", "The text model the worker loaded (version 'none' without one)")
FEEDBACK = Counter("vigil_feedback_total", "Analyst feedback records, by label", ["label"])

# ---------------------------------------------------------------- latency

STAGE_SECONDS = Histogram("vigil_stage_seconds",
                          "Time spent per ad in each pipeline stage (validate, text, images, link, score)",
                          ["stage"], buckets=STAGE_BUCKETS)
SCORING_SECONDS = Histogram(
    "vigil_scoring_seconds", "Time to enrich, link and score one ad",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
INGEST_TO_SCORED_SECONDS = Histogram(
    "vigil_ingest_to_scored_seconds", "From ingest to the scored record being produced",
    buckets=END_TO_END_BUCKETS,
)
INGEST_TO_ALERT_DELIVERED_SECONDS = Histogram(
    "vigil_ingest_to_alert_delivered_seconds",
    "From the ad's ingest to its alert accepted (2xx) by a webhook, by destination and severity",
    ["destination", "severity"], buckets=END_TO_END_BUCKETS,
)

# ---------------------------------------------------------------- Kafka

CONSUMER_LAG = Gauge("vigil_consumer_lag_records",
                     "Records on a partition not yet committed by the consumer group",
                     ["group", "topic", "partition"])
DLQ_RECORDS = Gauge("vigil_dlq_records", "Records held by a dead-letter topic", ["topic"])
LAG_ERRORS = Counter("vigil_lag_probe_errors_total", "Failed reads of group offsets / topic ends")

STAGES = ("validate", "text", "images", "link", "score")


ALERT_SEVERITIES = tuple(s for s in SEVERITIES if s != "none")


def initialise_worker_series() -> None:
    """Create the labelled series whose label values are known before any ad arrives, at zero.

    A series born with its first observation already in it has no earlier sample to rate
    against: Prometheus's rate() and histogram_quantile() see no change until the next one
    (and a burst that ends between two scrapes never shows at all).
    """
    for stage in STAGES:
        STAGE_SECONDS.labels(stage)
    for severity in SEVERITIES:
        ADS_SCORED.labels(severity)


def initialise_delivery_series(destinations: list[str]) -> None:
    """The dispatcher's ingest→delivered series for every destination and alert severity."""
    for name in destinations:
        for severity in ALERT_SEVERITIES:
            INGEST_TO_ALERT_DELIVERED_SECONDS.labels(name, severity)


def observe_scored(scored: dict, timings: dict[str, float]) -> None:
    """Count what a scored ad contributes to the detection metrics."""
    ADS_SCORED.labels(scored["severity"]).inc()
    for stage, seconds in timings.items():
        STAGE_SECONDS.labels(stage).observe(seconds)
    for indicator in scored.get("indicators") or []:
        if indicator.get("category") != "context":  # the commercial-sex context is no red flag
            INDICATOR_HITS.labels(indicator.get("category") or "unknown").inc()
    for match in scored.get("image_matches") or []:
        BANK_MATCHES.labels(match["bank"]).inc()
    size = int((scored.get("cluster") or {}).get("size") or 1)
    CLUSTER_SIZE.observe(size)
    if size > 1:
        CLUSTER_JOINS.inc()


def top_family(record: dict) -> str:
    """The family of the largest reason of a scored ad or alert ('none' without reasons)."""
    reasons = record.get("reasons") or []
    return str(reasons[0].get("family") or reasons[0].get("code", "none").split(":")[0]) if reasons else "none"


def set_model_info(model) -> None:
    meta = getattr(model, "metadata", None) or {}
    MODEL_INFO.info({"version": str(meta.get("version") or ("unknown" if model else "none")),
                     "format_version": str(meta.get("format_version") or "")})


def set_bank_sizes(counts: dict[str, int]) -> None:
    BANK_ENTRIES.clear()  # a bank removed since the last load disappears
    for bank, n in counts.items():
        BANK_ENTRIES.labels(bank).set(n)


def bind_address() -> str:
    """Where vigil's HTTP listeners (/metrics, ingest) bind: loopback unless VIGIL_BIND says
    otherwise (containers set 0.0.0.0 so Prometheus can reach them)."""
    return os.environ.get("VIGIL_BIND") or "127.0.0.1"


def serve_metrics(port: int) -> None:
    """Expose /metrics (with the process_* and python_* collectors) on loopback by default."""
    start_http_server(port, addr=bind_address())
