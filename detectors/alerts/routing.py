"""Pure parts of alert delivery: routing, ids, retry decisions, circuit breaker, rate limit,
cluster grouping and payloads. No I/O: the dispatcher (streams/dispatch.py) supplies the clock.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from detectors.scoring.scorer import severity_rank

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUS = frozenset({429, 503})
FORMATS = ("json", "slack", "teams", "alertmanager")
MAX_CLUSTER_AD_IDS = 50


@dataclass(frozen=True)
class Destination:
    """One webhook receiver, what it wants, and how hard to try."""

    name: str
    url: str
    secret: str = field(repr=False)
    format: str = "json"  # json | slack | teams | alertmanager
    min_severity: str = "medium"
    sources: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    extra_secrets: tuple[str, ...] = field(default=(), repr=False)  # also signed during rotation
    max_attempts: int = 12
    max_age_s: float = 3600.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    fast_attempts: int = 3  # attempts held in memory before the delivery is parked in Redis
    fast_budget_s: float = 3.0  # longest in-memory wait between attempts before parking
    rate_per_s: float = 50.0
    timeout_s: float = 5.0
    concurrency: int = 8
    max_queue: int = 1000  # deliveries queued in memory; beyond this they are parked in Redis
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 5.0
    breaker_max_cooldown_s: float = 30.0

    def wants(self, alert: dict) -> bool:
        if severity_rank(alert.get("severity", "none")) < severity_rank(self.min_severity):
            return False
        if self.sources and alert.get("source") not in self.sources:
            return False
        region = (alert.get("location") or {}).get("region")
        return not (self.regions and region not in self.regions)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.secret, *self.extra_secrets)


def route(alert: dict, destinations: list[Destination]) -> list[Destination]:
    """The destinations an alert goes to (a critical alert may go to several)."""
    return [d for d in destinations if d.wants(alert)]


def webhook_id(alert_id: str, destination: str) -> str:
    """Stable per alert and destination, so a redelivery is recognisable."""
    return "msg_" + hashlib.sha256(f"{destination}|{alert_id}".encode()).hexdigest()[:26]


def group_key(alert: dict) -> str | None:
    """The cluster an alert folds into, or None when it must go alone (no cluster, critical)."""
    cluster_id = (alert.get("cluster") or {}).get("cluster_id")
    if not cluster_id or alert.get("severity") == "critical":
        return None
    return cluster_id


# ---------------------------------------------------------------- retries


def backoff_s(attempt: int, *, base: float = 0.5, cap: float = 60.0,
              rng: random.Random | None = None) -> float:
    """Exponential back-off with (half) jitter after the given (1-based) failed attempt."""
    ceiling = min(cap, base * (2 ** min(attempt - 1, 30)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_after_s(header: str | None, *, now: float | None = None,
                  cap: float = 300.0) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/unreadable.
    `now` (Unix seconds) is needed for the date form."""
    if not header:
        return None
    text = header.strip()
    try:
        return max(0.0, min(cap, float(text)))
    except ValueError:
        pass
    if now is None:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min(cap, when.timestamp() - now))


def classify(status: int | None) -> str:
    """What an HTTP answer means for delivery (None: no answer: time-out, refused, reset)."""
    if status is None or status in RETRYABLE_STATUS:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    if status == 410:
        return "gone"
    return "rejected"


@dataclass(frozen=True)
class Decision:
    """What to do after an attempt: delivered | retry (after delay_s) | dead_letter | disable."""

    action: str
    delay_s: float = 0.0
    reason: str = ""


def decide(status: int | None, error: str, *, attempts: int, age_s: float,
           retry_after: float | None, dest: Destination,
           rng: random.Random | None = None) -> Decision:
    """The next step for a delivery after its `attempts`-th attempt, `age_s` after its first."""
    outcome = classify(status)
    if outcome == "delivered":
        return Decision("delivered")
    if outcome == "gone":
        return Decision("disable", reason=f"{error}: receiver said stop sending (destination "
                                          "disabled)")
    if outcome == "rejected":
        return Decision("dead_letter", reason=f"{error} (not retryable)")
    if attempts >= dest.max_attempts:
        return Decision("dead_letter", reason=f"after {attempts} attempt(s): {error}")
    delay = retry_after if retry_after is not None and status in RETRY_AFTER_STATUS else \
        backoff_s(attempts, base=dest.backoff_base_s, cap=dest.backoff_cap_s, rng=rng)
    if age_s + delay > dest.max_age_s:
        return Decision("dead_letter", reason=f"after {attempts} attempt(s) over {age_s:.0f} s "
                                              f"(max age {dest.max_age_s:.0f} s): {error}")
    return Decision("retry", delay_s=delay, reason=error)


def wait_in_memory(decision: Decision, *, attempts: int, held_s: float,
                   dest: Destination) -> bool:
    """True if a retry should wait in memory; False if the delivery should be parked in Redis
    (so that its offset can be committed and it stops holding a worker)."""
    return (decision.action == "retry" and attempts < dest.fast_attempts
            and held_s + decision.delay_s <= dest.fast_budget_s)


# ---------------------------------------------------------------- breaker and rate limit


@dataclass
class CircuitBreaker:
    """closed → open after `threshold` consecutive failures; after the cool-down one trial is let
    through (half-open); its success closes the breaker, its failure re-opens it with twice the
    cool-down (up to `max_cooldown_s`)."""

    threshold: int = 5
    cooldown_s: float = 5.0
    max_cooldown_s: float = 60.0
    failures: int = 0
    state: str = "closed"
    open_until: float = 0.0
    current_cooldown_s: float = 0.0
    trial_in_flight: bool = False

    def allow(self, now: float) -> bool:
        """May a request go now? (In half-open state only one trial at a time.)"""
        if self.state == "closed":
            return True
        if self.state == "open" and now >= self.open_until:
            self.state = "half_open"
        if self.state == "half_open" and not self.trial_in_flight:
            self.trial_in_flight = True
            return True
        return False

    def retry_at(self, now: float) -> float:
        """When a request refused by `allow` should ask again."""
        if self.state == "open":
            return self.open_until
        return now + min(1.0, self.cooldown_s)

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.failures, self.state, self.trial_in_flight = 0, "closed", False
            self.current_cooldown_s = 0.0
            return
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            reopening = self.state == "half_open"
            self.current_cooldown_s = (min(self.max_cooldown_s, self.current_cooldown_s * 2)
                                       if reopening else self.cooldown_s)
            self.state, self.open_until = "open", now + self.current_cooldown_s
            self.trial_in_flight = False


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


# ---------------------------------------------------------------- grouping


@dataclass
class _Group:
    items: list = field(default_factory=list)
    first_at: float = 0.0
    last_flush: float | None = None


class ClusterGrouper:
    """Alertmanager-style folding: the first alert of a group waits `group_wait_s`; later ones
    are sent together at most once per `group_interval_s`, as one notification."""

    def __init__(self, group_wait_s: float = 0.0, group_interval_s: float = 10.0) -> None:
        self.group_wait_s, self.group_interval_s = group_wait_s, group_interval_s
        self.groups: dict[object, _Group] = {}

    def _flush_at(self, group: _Group) -> float:
        at = group.first_at + self.group_wait_s
        if group.last_flush is not None:
            at = max(at, group.last_flush + self.group_interval_s)
        return at

    def offer(self, key: object, item: object, now: float) -> None:
        group = self.groups.setdefault(key, _Group())
        if not group.items:
            group.first_at = now
        group.items.append(item)

    def due(self, now: float, *, everything: bool = False) -> list[tuple[object, list]]:
        """Pop the groups whose time has come (all of them with `everything`)."""
        ready = []
        for key, group in list(self.groups.items()):
            if group.items and (everything or self._flush_at(group) <= now):
                ready.append((key, group.items))
                group.items, group.last_flush = [], now
            elif not group.items and (group.last_flush is None
                                      or now - group.last_flush >= self.group_interval_s):
                del self.groups[key]
        return ready

    def next_due(self) -> float | None:
        times = [self._flush_at(g) for g in self.groups.values() if g.items]
        return min(times) if times else None

    def held(self) -> int:
        return sum(len(g.items) for g in self.groups.values())


# ---------------------------------------------------------------- payloads


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts else None


def investigator_url(alert: dict, base_url: str) -> str:
    cluster_id = (alert.get("cluster") or {}).get("cluster_id")
    base = base_url.rstrip("/")
    return f"{base}/clusters/{cluster_id}" if cluster_id else f"{base}/ads/{alert['ad_id']}"


def _cluster_summary(cluster: dict | None) -> dict | None:
    if not cluster:
        return None
    ad_ids = list(cluster.get("ad_ids") or [])
    return {
        "cluster_id": cluster.get("cluster_id"),
        "size": cluster.get("size", len(ad_ids)),
        "phones": cluster.get("phones", []),
        "cities": cluster.get("cities", []),
        "first_seen": cluster.get("first_seen"),
        "last_seen": cluster.get("last_seen"),
        "ad_ids": ad_ids[:MAX_CLUSTER_AD_IDS],
        "ad_ids_truncated": len(ad_ids) > MAX_CLUSTER_AD_IDS,
    }


def notification(alerts: list[dict], *, investigator_base_url: str) -> dict:
    """The JSON payload of one notification: the newest alert in full, every folded alert's ad,
    and the count of alerts folded into it (same cluster within the grouping window)."""
    newest = alerts[-1]
    top = max(alerts, key=lambda a: (severity_rank(a["severity"]), a["risk"]))
    matches = [m for a in alerts for m in (a.get("image_matches") or [])]
    reasons = newest.get("reasons", [])
    return {
        "version": 1,
        "type": "vigil.alert",
        "alert_id": newest["alert_id"],
        "severity": top["severity"],
        "risk": top["risk"],
        "grouped_count": len(alerts),
        "grouped_alert_ids": [a["alert_id"] for a in alerts],
        "summary": f"{top['severity']} risk {top['risk']:.2f}"
        + (f" ({len(alerts)} alerts in cluster)" if len(alerts) > 1 else "") + ": "
        + "; ".join(r.get("detail", r.get("code", "")) for r in reasons[:3]),
        "reasons": reasons,
        "ads": [{"ad_id": a["ad_id"], "alert_id": a["alert_id"], "url": a.get("url"),
                 "source": a.get("source"), "posted_at": a.get("posted_at"),
                 "location": a.get("location"), "severity": a["severity"], "risk": a["risk"]}
                for a in alerts],
        "cluster": _cluster_summary(newest.get("cluster")),
        "bank_matches": matches,
        "investigator_url": investigator_url(newest, investigator_base_url),
        "created_at": newest.get("created_at"),
        "ingested_at": newest.get("ingested_at"),
        "alert": newest,
    }


def _slack(payload: dict) -> dict:
    cases = sorted({str(m.get("case_id")) for m in payload["bank_matches"] if m.get("case_id")})
    lines = [f"*vigil {payload['severity'].upper()}* · risk {payload['risk']:.2f}"
             + (f" · {payload['grouped_count']} alerts" if payload["grouped_count"] > 1 else ""),
             *[f"• {r.get('detail', r.get('code'))}" for r in payload["reasons"][:5]]]
    if cases:
        lines.append(f"*Missing-children bank match*: case {', '.join(cases)}")
    ad = payload["ads"][-1]
    if ad.get("url"):
        lines.append(f"<{ad['url']}|ad {ad['ad_id']}>")
    lines.append(f"<{payload['investigator_url']}|open in investigator view>")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                    "text": text}}]}


def _teams(payload: dict) -> dict:
    facts = [{"title": "Severity", "value": payload["severity"]},
             {"title": "Risk", "value": f"{payload['risk']:.2f}"},
             {"title": "Alerts", "value": str(payload["grouped_count"])}]
    cluster = payload.get("cluster")
    if cluster:
        facts.append({"title": "Cluster", "value": f"{cluster['size']} ads, "
                      f"{', '.join(cluster['cities'][:5]) or '-'}"})
    body = [{"type": "TextBlock", "size": "Medium", "weight": "Bolder",
             "text": f"vigil {payload['severity'].upper()} alert"},
            {"type": "FactSet", "facts": facts},
            *[{"type": "TextBlock", "wrap": True, "text": f"- {r.get('detail', r.get('code'))}"}
              for r in payload["reasons"][:5]]]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body,
            "actions": [{"type": "Action.OpenUrl", "title": "Open investigator view",
                         "url": payload["investigator_url"]}]}
    return {"type": "message", "summary": payload["summary"],
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                             "content": card}]}


def _alertmanager(payload: dict, receiver: str) -> dict:
    """Alertmanager webhook payload v4, which on-call tooling already understands."""
    def one(ad: dict) -> dict:
        cluster_id = (payload.get("cluster") or {}).get("cluster_id") or ""
        return {
            "status": "firing",
            "labels": {"alertname": "VigilTraffickingRisk", "severity": ad["severity"],
                       "alert_id": ad["alert_id"], "ad_id": ad["ad_id"],
                       "cluster_id": cluster_id, "source": ad.get("source") or ""},
            "annotations": {"summary": payload["summary"], "ad_url": ad.get("url") or "",
                            "investigator_url": payload["investigator_url"]},
            "startsAt": _iso(payload.get("created_at")) or "",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": payload["investigator_url"],
            "fingerprint": hashlib.sha256(ad["alert_id"].encode()).hexdigest()[:16],
        }

    cluster_id = (payload.get("cluster") or {}).get("cluster_id")
    group_labels = {"cluster_id": cluster_id} if cluster_id else {"alert_id": payload["alert_id"]}
    return {
        "version": "4", "status": "firing", "receiver": receiver,
        "groupKey": "{}:{" + ",".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}",
        "truncatedAlerts": 0, "groupLabels": group_labels,
        "commonLabels": {"alertname": "VigilTraffickingRisk", "severity": payload["severity"]},
        "commonAnnotations": {"summary": payload["summary"]},
        "externalURL": payload["investigator_url"],
        "alerts": [one(ad) for ad in payload["ads"]],
    }


def format_payload(payload: dict, fmt: str, *, receiver: str = "vigil") -> dict:
    """The body for a destination's format: our JSON, or Slack/Teams/Alertmanager shapes."""
    if fmt == "slack":
        return _slack(payload)
    if fmt == "teams":
        return _teams(payload)
    if fmt == "alertmanager":
        return _alertmanager(payload, receiver)
    return payload
