"""Prometheus metrics (base units, `vigil_` prefix, no ids or PII in labels)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

ADS_CONSUMED = Counter("vigil_ads_consumed_total", "Records read from ads.raw")
ADS_SCORED = Counter("vigil_ads_scored_total", "Ads scored, by severity", ["severity"])
ADS_DEAD_LETTERED = Counter(
    "vigil_ads_dead_lettered_total", "Records sent to ads.dlq, by stage and error code",
    ["stage", "error_code"],
)
ALERTS = Counter("vigil_alerts_total", "Alerts produced, by severity", ["severity"])
ALERTS_SUPPRESSED = Counter("vigil_alerts_suppressed_total", "Alerts folded by cluster policy")
IMAGE_ERRORS = Counter("vigil_image_errors_total", "Per-image errors, by code", ["error"])
BANK_MATCHES = Counter("vigil_bank_matches_total", "Hash-bank matches, by bank", ["bank"])
FEEDBACK = Counter("vigil_feedback_total", "Analyst feedback records, by label", ["label"])
SCORING_SECONDS = Histogram(
    "vigil_scoring_seconds", "Time to enrich, link and score one ad",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
INGEST_TO_SCORED_SECONDS = Histogram(
    "vigil_ingest_to_scored_seconds", "From ingest to the scored record being produced",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)


def serve_metrics(port: int) -> None:
    """Expose /metrics on loopback only."""
    start_http_server(port, addr="127.0.0.1")
