"""Pure delivery logic: routing, ids, retry decisions, breaker, rate limit, grouping, payloads."""

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from detectors.alerts.routing import (
    CircuitBreaker,
    ClusterGrouper,
    Destination,
    TokenBucket,
    backoff_s,
    classify,
    decide,
    format_payload,
    group_key,
    notification,
    retry_after_s,
    route,
    wait_in_memory,
    webhook_id,
)

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWRpc3BhdGNoLXRlc3Rz"


def alert(severity="high", **kw):
    return {"alert_id": "al_1", "ad_id": "a1", "severity": severity, "risk": 0.9,
            "reasons": [{"code": "c", "contribution": 1, "detail": "shared phone",
                         "evidence": {"phone_hash": "h1", "ads": 4}}],
            "location": {"region": "NV", "city": "Reno"}, "source": "s1",
            "url": "https://ads.example/a1", "created_at": 1_700_000_000.0, **kw}


def dest(**kw):
    return Destination("d", "http://127.0.0.1:1/hook", SECRET, **kw)


def test_routing_by_severity_source_and_region():
    oncall = Destination("oncall", "http://x", SECRET, min_severity="medium")
    crit = Destination("crit", "http://y", SECRET, min_severity="critical")
    nv_only = Destination("nv", "http://z", SECRET, min_severity="low", regions=("NV",))
    s2_only = Destination("s2", "http://w", SECRET, min_severity="low", sources=("s2",))
    dests = [oncall, crit, nv_only, s2_only]
    assert [d.name for d in route(alert("high"), dests)] == ["oncall", "nv"]
    assert [d.name for d in route(alert("critical"), dests)] == ["oncall", "crit", "nv"]
    assert [d.name for d in route(alert("low", location={"region": "CO"}), dests)] == []
    assert [d.name for d in route(alert("low", source="s2"), dests)] == ["nv", "s2"]


def test_secret_is_not_in_the_destination_repr():
    assert SECRET not in repr(dest(extra_secrets=(SECRET,)))


def test_webhook_id_is_stable_per_alert_and_destination():
    assert webhook_id("al_1", "a") == webhook_id("al_1", "a")
    assert webhook_id("al_1", "a") != webhook_id("al_1", "b")
    assert webhook_id("al_1", "a") != webhook_id("al_2", "a")
    assert webhook_id("al_1", "a").startswith("msg_")


def test_group_key_folds_by_cluster_but_never_critical_or_clusterless():
    assert group_key(alert(cluster={"cluster_id": "c9"})) == "c9"
    assert group_key(alert("critical", cluster={"cluster_id": "c9"})) is None
    assert group_key(alert(cluster=None)) is None


def test_backoff_grows_with_jitter_and_a_cap():
    rng = random.Random(1)
    delays = [backoff_s(n, base=0.5, cap=30, rng=rng) for n in range(1, 12)]
    assert 0.25 <= delays[0] <= 0.5 and 8 <= delays[5] <= 16
    assert max(delays) <= 30 and delays[-1] >= 15
    assert len({round(d, 6) for d in delays}) == len(delays)
    assert backoff_s(10_000, cap=60) <= 60  # no overflow on absurd attempt counts


def test_retry_after_seconds_date_and_garbage():
    assert retry_after_s("7") == 7
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("99999") == 300
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 20, UTC), usegmt=True)
    assert retry_after_s(date, now=now) == pytest.approx(20, abs=1)
    assert retry_after_s(date) is None  # the date form needs a clock


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "delivered"), (204, "delivered"), (None, "retry"), (500, "retry"), (503, "retry"),
    (429, "retry"), (408, "retry"), (410, "gone"), (400, "rejected"), (401, "rejected"),
    (404, "rejected"), (301, "rejected"),
])
def test_classify_http_answers(status, outcome):
    assert classify(status) == outcome


def test_decide_retries_then_dead_letters_after_max_attempts():
    d = dest(max_attempts=3)
    rng = random.Random(2)
    first = decide(500, "HTTP 500", attempts=1, age_s=0, retry_after=None, dest=d, rng=rng)
    assert first.action == "retry" and 0.25 <= first.delay_s <= 0.5
    last = decide(500, "HTTP 500", attempts=3, age_s=5, retry_after=None, dest=d, rng=rng)
    assert last.action == "dead_letter" and "after 3 attempt(s): HTTP 500" in last.reason


def test_decide_honours_retry_after_only_on_429_and_503():
    d = dest()
    assert decide(429, "HTTP 429", attempts=1, age_s=0, retry_after=7, dest=d).delay_s == 7
    assert decide(503, "HTTP 503", attempts=1, age_s=0, retry_after=9, dest=d).delay_s == 9
    assert decide(500, "HTTP 500", attempts=1, age_s=0, retry_after=9, dest=d).delay_s <= 0.5


def test_decide_dead_letters_when_waiting_would_pass_max_age():
    d = dest(max_age_s=60)
    late = decide(429, "HTTP 429", attempts=2, age_s=50, retry_after=30, dest=d)
    assert late.action == "dead_letter" and "max age" in late.reason


def test_decide_410_disables_and_4xx_is_not_retried():
    assert decide(410, "HTTP 410", attempts=1, age_s=0, retry_after=None,
                  dest=dest()).action == "disable"
    rejected = decide(400, "HTTP 400", attempts=1, age_s=0, retry_after=None, dest=dest())
    assert rejected.action == "dead_letter" and "not retryable" in rejected.reason
    assert decide(204, "HTTP 204", attempts=1, age_s=0, retry_after=None,
                  dest=dest()).action == "delivered"


def test_wait_in_memory_only_for_short_early_retries():
    d = dest(fast_attempts=3, fast_budget_s=3.0)
    short = decide(500, "x", attempts=1, age_s=0, retry_after=None, dest=d)
    assert wait_in_memory(short, attempts=1, held_s=0.0, dest=d)
    assert not wait_in_memory(short, attempts=3, held_s=0.0, dest=d)  # attempts used up
    assert not wait_in_memory(short, attempts=1, held_s=2.9, dest=d)  # budget used up
    long_wait = decide(429, "x", attempts=1, age_s=0, retry_after=30, dest=d)
    assert not wait_in_memory(long_wait, attempts=1, held_s=0.0, dest=d)


def test_circuit_breaker_opens_half_opens_one_trial_and_backs_off():
    cb = CircuitBreaker(threshold=3, cooldown_s=10, max_cooldown_s=25)
    for t in range(3):
        assert cb.allow(float(t))
        cb.record(False, now=float(t))
    assert cb.state == "open" and not cb.allow(5.0) and cb.retry_at(5.0) == 12.0
    assert cb.allow(12.0) and cb.state == "half_open"  # one trial ...
    assert not cb.allow(12.1)  # ... at a time
    cb.record(False, now=13.0)  # the trial failed: open again, twice as long
    assert cb.state == "open" and cb.open_until == 33.0
    assert cb.allow(33.0)
    cb.record(False, now=33.0)
    assert cb.open_until == 58.0  # capped at 25 s
    assert cb.allow(58.0)
    cb.record(True, now=58.5)
    assert cb.state == "closed" and cb.allow(58.6) and cb.allow(58.6)


def test_token_bucket_limits_rate():
    bucket = TokenBucket(rate_per_s=2)
    waits = [bucket.wait_s(now=100.0) for _ in range(4)]
    assert waits[:2] == [0.0, 0.0] and waits[2] == 0.5 and waits[3] == 1.0
    assert bucket.wait_s(now=110.0) == 0.0  # refilled


def test_grouper_sends_first_at_once_then_folds_within_the_interval():
    g = ClusterGrouper(group_wait_s=0.0, group_interval_s=10.0)
    g.offer("c", "a1", now=0.0)
    assert g.due(0.0) == [("c", ["a1"])]
    g.offer("c", "a2", now=1.0)
    g.offer("c", "a3", now=2.0)
    g.offer("other", "b1", now=2.0)
    assert g.due(2.0) == [("other", ["b1"])]  # another cluster is not held back
    assert g.next_due() == 10.0 and g.held() == 2
    assert g.due(9.9) == []
    assert g.due(10.0) == [("c", ["a2", "a3"])]
    g.offer("c", "a4", now=25.0)  # a quiet interval passed: straight out again
    assert g.due(25.0) == [("c", ["a4"])]


def test_grouper_group_wait_collects_the_first_burst_and_forgets_idle_groups():
    g = ClusterGrouper(group_wait_s=0.5, group_interval_s=5.0)
    for i, t in enumerate([0.0, 0.1, 0.4]):
        g.offer("c", i, now=t)
    assert g.due(0.45) == []
    assert g.due(0.5) == [("c", [0, 1, 2])]
    assert g.due(6.0) == [] and "c" not in g.groups
    g.offer("c", 9, now=7.0)
    assert g.due(7.0, everything=True) == [("c", [9])]


def test_notification_has_what_triage_needs():
    matches = [{"bank": "missing_children", "entry_id": "e1", "case_id": "NCMEC-123",
                "distance": 4}]
    a1 = alert(alert_id="al_1", ad_id="a1", cluster={"cluster_id": "c9", "size": 4})
    a2 = alert(alert_id="al_2", ad_id="a2", severity="critical", risk=0.97, ingested_at=5.0,
               image_matches=matches,
               cluster={"cluster_id": "c9", "size": 5, "phones": ["h1"], "cities": ["Reno"],
                        "first_seen": "2026-01-01", "last_seen": "2026-01-03",
                        "ad_ids": [f"a{i}" for i in range(80)]})
    p = notification([a1, a2], investigator_base_url="http://inv/")
    assert p["alert_id"] == "al_2" and p["grouped_count"] == 2
    assert p["grouped_alert_ids"] == ["al_1", "al_2"]
    assert p["severity"] == "critical" and p["risk"] == 0.97
    assert p["reasons"][0]["evidence"] == {"phone_hash": "h1", "ads": 4}
    assert [ad["url"] for ad in p["ads"]] == ["https://ads.example/a1"] * 2
    assert p["cluster"]["size"] == 5 and p["cluster"]["cities"] == ["Reno"]
    assert len(p["cluster"]["ad_ids"]) == 50 and p["cluster"]["ad_ids_truncated"]
    assert p["bank_matches"][0]["case_id"] == "NCMEC-123"
    assert p["investigator_url"] == "http://inv/clusters/c9"
    assert p["ingested_at"] == 5.0 and "shared phone" in p["summary"]
    lone = notification([alert(cluster=None)], investigator_base_url="http://inv")
    assert lone["investigator_url"] == "http://inv/ads/a1" and lone["cluster"] is None


def test_slack_teams_and_alertmanager_formats():
    a = alert(alert_id="al_2", severity="critical", cluster={"cluster_id": "c9", "size": 5},
              image_matches=[{"case_id": "NCMEC-123"}])
    p = notification([a], investigator_base_url="http://inv")
    slack = format_payload(p, "slack")
    assert "NCMEC-123" in slack["text"] and "http://inv/clusters/c9" in slack["text"]
    teams = format_payload(p, "teams")
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["actions"][0]["url"] == "http://inv/clusters/c9"
    am = format_payload(p, "alertmanager", receiver="oncall")
    assert am["version"] == "4" and am["receiver"] == "oncall"
    assert am["groupKey"] == '{}:{cluster_id="c9"}'
    assert am["alerts"][0]["labels"]["severity"] == "critical"
    assert am["alerts"][0]["startsAt"].endswith("Z")
    assert format_payload(p, "json") is p
