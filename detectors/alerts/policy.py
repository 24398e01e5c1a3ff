"""Alert policy: deterministic ids, and one alert per cluster per window unless it gets worse.

An alert is raised for a scored ad whose severity reaches the configured minimum. Within the
suppression window a cluster that already alerted stays quiet unless its severity rises or it
has grown by `growth_factor` since the last alert. State is a small dict per cluster, kept by
the shell (in Redis with a TTL for the stream, in memory for the batch path).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from detectors.scoring.scorer import severity_rank

SUPPRESSION_WINDOW_S = 6 * 3600
GROWTH_FACTOR = 2.0


@dataclass(frozen=True)
class AlertDecision:
    send: bool
    why: str
    state: dict  # the cluster's suppression state after this decision


def alert_id(ad_id: str, cluster_id: str | None, severity: str) -> str:
    """Stable for the same ad, cluster and severity: a re-processed ad gives the same id."""
    digest = hashlib.sha256(f"{ad_id}|{cluster_id or ''}|{severity}".encode()).hexdigest()
    return f"al_{digest[:24]}"


def decide(
    previous: dict | None,
    *,
    severity: str,
    cluster_size: int,
    ad_id: str | None = None,
    growth_factor: float = GROWTH_FACTOR,
) -> AlertDecision:
    """Whether to send an alert for this cluster now, given its last alert's state.

    The state remembers which ad raised the last alert (and why): the same ad seen again (a
    redelivery after a crash, at-least-once) is sent again with the same decision, so its
    alert is not lost to its own suppression state."""
    if previous is not None and ad_id is not None and previous.get("ad_id") == ad_id:
        return AlertDecision(True, previous.get("why") or "redelivered", previous)

    def state(why: str) -> dict:
        return {"severity": severity, "size": cluster_size, "ad_id": ad_id, "why": why}

    if previous is None:
        why = "first alert for this cluster"
        return AlertDecision(True, why, state(why))
    if severity_rank(severity) > severity_rank(previous["severity"]):
        why = f"severity rose from {previous['severity']} to {severity}"
        return AlertDecision(True, why, state(why))
    if cluster_size >= previous["size"] * growth_factor:
        why = f"cluster grew from {previous['size']} to {cluster_size} ads"
        return AlertDecision(True, why, state(why))
    return AlertDecision(False, "suppressed: cluster alerted recently", previous)


def build_alert(scored: dict, *, now: float | None = None) -> dict:
    """The alert record (schemas/alert.v1.json) for a scored ad."""
    cluster = scored.get("cluster") or None
    cluster_id = cluster["cluster_id"] if cluster else None
    return {
        "schema_version": 1,
        "alert_id": alert_id(scored["ad_id"], cluster_id, scored["severity"]),
        "ad_id": scored["ad_id"],
        "source": scored.get("source"),
        "url": scored.get("url"),
        "posted_at": scored.get("posted_at"),
        "location": scored.get("location") or {},
        "severity": scored["severity"],
        "risk": scored["risk"],
        "reasons": scored["reasons"],
        "indicators": scored["indicators"],
        "entities": scored["entities"],
        "image_matches": scored["image_matches"],
        "cluster": cluster,
        "ingested_at": scored.get("ingested_at"),
        "created_at": now if now is not None else time.time(),
    }
