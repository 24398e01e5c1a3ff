"""Prometheus metrics of `vigil console`: request latency by route template (never the path
with its ids, never the query string) and login outcomes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "vigil_console_request_seconds", "Console request latency, by route template, method and status class",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LOGINS = Counter("vigil_console_logins_total", "Login attempts, by outcome (ok, refused, throttled)", ["outcome"])


def initialise_console_series(routes: list[tuple[str, str]]) -> None:
    """Every (route template, method) at zero for the usual status classes, and every login
    outcome: rate() needs a sample from before a series' first request."""
    for outcome in ("ok", "refused", "throttled"):
        LOGINS.labels(outcome)
    for template, method in routes:
        for status in ("2xx", "3xx", "4xx"):
            REQUEST_SECONDS.labels(template, method, status)
