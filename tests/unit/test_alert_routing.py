"""Pure delivery logic: routing, ids, back-off, Retry-After, breaker, rate limit, payloads."""

import random

from detectors.alert_routing import (
    CircuitBreaker,
    Destination,
    TokenBucket,
    backoff_s,
    format_payload,
    notification,
    retry_after_s,
    route,
    webhook_id,
)
from streams.webhooks import sign, verify

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWRpc3BhdGNoLXRlc3Rz"


def alert(severity="high", **kw):
    return {"alert_id": "al_1", "ad_id": "a1", "severity": severity, "risk": 0.9,
            "reasons": [{"code": "c", "contribution": 1, "detail": "shared phone"}],
            "location": {"region": "NV"}, "source": "s1", **kw}


def test_routing_by_severity_source_and_region():
    oncall = Destination("oncall", "http://x", SECRET, min_severity="medium")
    crit = Destination("crit", "http://y", SECRET, min_severity="critical")
    nv_only = Destination("nv", "http://z", SECRET, min_severity="low", regions=("NV",))
    s2_only = Destination("s2", "http://w", SECRET, min_severity="low", sources=("s2",))
    dests = [oncall, crit, nv_only, s2_only]
    assert [d.name for d in route(alert("high"), dests)] == ["oncall", "nv"]
    assert [d.name for d in route(alert("critical"), dests)] == ["oncall", "crit", "nv"]
    assert [d.name for d in route(alert("low", location={"region": "CO"}), dests)] == []


def test_webhook_id_is_stable_per_alert_and_destination():
    assert webhook_id("al_1", "a") == webhook_id("al_1", "a")
    assert webhook_id("al_1", "a") != webhook_id("al_1", "b")
    assert webhook_id("al_1", "a") != webhook_id("al_2", "a")


def test_backoff_grows_with_jitter_and_a_cap():
    rng = random.Random(1)
    delays = [backoff_s(n, rng=rng) for n in range(1, 12)]
    assert delays[0] <= 0.5 and delays[5] >= 8
    assert max(delays) <= 30
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_retry_after_seconds_and_garbage():
    assert retry_after_s("7") == 7
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("99999") == 300


def test_circuit_breaker_opens_and_recovers():
    cb = CircuitBreaker(threshold=3, cooldown_s=10)
    for t in range(3):
        cb.record(False, now=float(t))
    assert cb.state == "open" and cb.wait_s(now=5.0) == 7.0
    cb.record(True, now=20.0)
    assert cb.state == "closed" and cb.wait_s(now=20.0) == 0


def test_token_bucket_limits_rate():
    bucket = TokenBucket(rate_per_s=2)
    waits = [bucket.wait_s(now=100.0) for _ in range(4)]
    assert waits[:2] == [0.0, 0.0] and waits[2] == 0.5 and waits[3] == 1.0


def test_payload_groups_alerts_and_formats_for_slack_and_teams():
    a1 = alert(alert_id="al_1", cluster={"cluster_id": "c9", "size": 4})
    a2 = alert(alert_id="al_2", severity="critical", cluster={"cluster_id": "c9", "size": 5})
    payload = notification([a1, a2], investigator_base_url="http://inv/")
    assert payload["grouped_count"] == 2 and payload["severity"] == "critical"
    assert payload["investigator_url"] == "http://inv/clusters/c9"
    assert "shared phone" in format_payload(payload, "slack")["text"]
    assert format_payload(payload, "teams")["@type"] == "MessageCard"


def test_signatures_verify_and_tampering_fails():
    body = '{"a": 1}'
    headers = sign(SECRET, "msg_1", body)
    assert verify(SECRET, body, headers)
    assert not verify(SECRET, body + " ", headers)
    assert not verify("whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==", body, headers)
