"""Pure parts of alert delivery: routing, back-off, circuit breaker, rate limit, payloads."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from detectors.scoring import severity_rank

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Destination:
    """One webhook receiver and what it wants."""

    name: str
    url: str
    secret: str
    format: str = "json"  # json | slack | teams
    min_severity: str = "medium"
    sources: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    max_attempts: int = 8
    max_age_s: float = 3600.0
    rate_per_s: float = 50.0
    timeout_s: float = 5.0
    concurrency: int = 8

    def wants(self, alert: dict) -> bool:
        if severity_rank(alert.get("severity", "none")) < severity_rank(self.min_severity):
            return False
        if self.sources and alert.get("source") not in self.sources:
            return False
        region = (alert.get("location") or {}).get("region")
        return not (self.regions and region not in self.regions)


def route(alert: dict, destinations: list[Destination]) -> list[Destination]:
    """The destinations an alert goes to (a critical alert may go to several)."""
    return [d for d in destinations if d.wants(alert)]


def webhook_id(alert_id: str, destination: str) -> str:
    """Stable per alert and destination, so a redelivery is recognisable."""
    return "msg_" + hashlib.sha256(f"{destination}|{alert_id}".encode()).hexdigest()[:26]


def backoff_s(attempt: int, *, base: float = 0.5, cap: float = 30.0,
              rng: random.Random | None = None) -> float:
    """Exponential back-off with full jitter for the given (1-based) failed attempt."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_after_s(header: str | None, *, cap: float = 300.0) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None if absent or unreadable."""
    if not header:
        return None
    try:
        return max(0.0, min(cap, float(header.strip())))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            import time

            return max(0.0, min(cap, parsedate_to_datetime(header).timestamp() - time.time()))
        except (TypeError, ValueError):
            return None


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one trial through after `cooldown_s`."""

    threshold: int = 5
    cooldown_s: float = 10.0
    failures: int = 0
    opened_at: float | None = None

    def wait_s(self, now: float) -> float:
        """How long a delivery must wait before it may try (0: go now)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown_s - now)

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = now

    @property
    def state(self) -> str:
        return "open" if self.opened_at is not None else "closed"


@dataclass
class TokenBucket:
    """A per-destination rate limit."""

    rate_per_s: float
    burst: float = 0.0
    tokens: float = field(default=0.0)
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.burst = self.burst or max(1.0, self.rate_per_s)
        self.tokens = self.burst

    def wait_s(self, now: float) -> float:
        """Take a token; return how long to wait first (0 if one was free)."""
        if self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate_per_s


def notification(alerts: list[dict], *, investigator_base_url: str) -> dict:
    """The JSON payload for one notification: the newest alert in full, plus the count of
    alerts folded into it (same cluster within the grouping window)."""
    newest = alerts[-1]
    cluster = newest.get("cluster") or {}
    return {
        "version": 1,
        "alert_id": newest["alert_id"],
        "severity": max((a["severity"] for a in alerts), key=severity_rank),
        "risk": max(a["risk"] for a in alerts),
        "grouped_count": len(alerts),
        "grouped_alert_ids": [a["alert_id"] for a in alerts],
        "summary": f"{newest['severity']} risk {newest['risk']:.2f}: "
        + "; ".join(r["detail"] for r in newest.get("reasons", [])[:3]),
        "alert": newest,
        "ads": [{"ad_id": a["ad_id"], "url": a.get("url"), "posted_at": a.get("posted_at"),
                 "location": a.get("location")} for a in alerts],
        "cluster": cluster,
        "bank_matches": newest.get("image_matches", []),
        "investigator_url": f"{investigator_base_url.rstrip('/')}/clusters/"
        f"{cluster.get('cluster_id') or newest['ad_id']}",
    }


def format_payload(payload: dict, fmt: str) -> dict:
    """Slack- or Teams-style incoming-webhook bodies; our JSON otherwise."""
    if fmt == "slack":
        text = (f"*vigil {payload['severity'].upper()}* ({payload['grouped_count']} alert(s)) "
                f"{payload['summary']}\n<{payload['investigator_url']}|open cluster>")
        return {"text": text}
    if fmt == "teams":
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": f"vigil {payload['severity']}",
                "title": f"vigil {payload['severity'].upper()} alert",
                "text": payload["summary"],
                "potentialAction": [{"@type": "OpenUri", "name": "Open cluster",
                                     "targets": [{"os": "default",
                                                  "uri": payload["investigator_url"]}]}]}
    return payload
