"""The dispatcher's config loading, persisted delivery records and error redaction."""

import pytest

from streams.dispatch.dispatcher import Delivery, Item, Pending, load_config, redact
from streams.errors import CliError

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWRpc3BhdGNoLXRlc3Rz"


def write(tmp_path, text):
    path = tmp_path / "dispatch.yaml"
    path.write_text(text)
    return path


def test_example_config_loads(monkeypatch):
    monkeypatch.setenv("VIGIL_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("VIGIL_ESCALATION_SECRET", SECRET)
    config = load_config("deploy/dispatch.example.yaml")
    names = [d.name for d in config.destinations]
    assert names == ["on-call", "critical-escalation"]
    assert config.destinations[0].secret == SECRET
    assert config.group_wait_s <= 1.0


def test_config_reads_secrets_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("S1", SECRET)
    monkeypatch.setenv("S2", "whsec_" + "bmV4dC1zZWNyZXQtZm9yLXJvdGF0aW9uLXRlc3Q=")
    (tmp_path / "secret").write_text(SECRET + "\n")
    config = load_config(write(tmp_path, f"""
group_wait_s: 0.5
group_interval_s: 20
destinations:
  - {{name: a, url: "http://127.0.0.1:9/x", secret_env: S1, extra_secret_envs: [S2],
     regions: [NV], min_severity: high, format: alertmanager}}
  - {{name: b, url: "https://example.org/y", secret_file: {tmp_path / 'secret'}}}
"""))
    a, b = config.destinations
    assert config.group_wait_s == 0.5 and config.group_interval_s == 20.0
    assert a.secrets == (SECRET, "whsec_bmV4dC1zZWNyZXQtZm9yLXJvdGF0aW9uLXRlc3Q=")
    assert a.regions == ("NV",) and a.format == "alertmanager"
    assert b.secret == SECRET


@pytest.mark.parametrize(("body", "message"), [
    ("destinations: []", "needs a 'destinations' list"),
    ("destinations:\n  - {name: a}", "needs 'name' and 'url'"),
    ("destinations:\n  - {name: a, url: 'ftp://x', secret_env: S1}", "http(s)"),
    ("destinations:\n  - {name: a, url: 'http://x', secret_env: S1, min_severty: low}",
     "unknown key(s) min_severty"),
    ("destinations:\n  - {name: a, url: 'http://x', secret_env: S1, format: email}",
     "format must be one of"),
    ("destinations:\n  - {name: a, url: 'http://x', secret_env: NOPE}", "NOPE"),
    ("destinations:\n  - {name: a, url: 'http://x', secret_env: BAD}", "must start with"),
    ("destinations:\n  - {name: a, url: 'http://x', secret_env: S1}\n"
     "  - {name: a, url: 'http://y', secret_env: S1}", "unique"),
    ("destinations:\n  - {name: a, url: 'http://x', secret_env: S1, timeout_s: soon}",
     "timeout_s must be a float"),
    ("grup_wait_s: 1\ndestinations:\n  - {name: a, url: 'http://x', secret_env: S1}",
     "unknown key(s) grup_wait_s"),
])
def test_config_errors_are_one_clear_line(tmp_path, monkeypatch, body, message):
    monkeypatch.setenv("S1", SECRET)
    monkeypatch.setenv("BAD", "hunter2-not-a-whsec")
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(CliError) as info:
        load_config(write(tmp_path, body))
    assert message in str(info.value)
    assert "hunter2" not in str(info.value) and SECRET not in str(info.value)


def test_parked_delivery_round_trips_without_its_in_memory_state():
    pending = Pending(tp=None, offset=7, remaining=1)
    delivery = Delivery("oncall", [Item({"alert_id": "al_1", "ad_id": "a"}, "alerts", 2, 7,
                                        123.5, pending)], attempts=3, first_at=100.0,
                        last_error="HTTP 503")
    back = Delivery.from_json(delivery.to_json())
    assert back == delivery and back.items[0].pending is None
    assert back.msg_id == delivery.msg_id


def test_redact_hides_url_path_and_query():
    url = "https://hooks.example.com/services/T000/B000/XXXXSECRET?token=abc"
    text = f"ClientResponseError: 500, url={url}"
    assert "XXXXSECRET" not in redact(text, url) and "abc" not in redact(text, url)
    assert "hooks.example.com" in redact(text, url)


def test_every_delivery_outcome_is_exported_at_zero_before_the_first_alert(tmp_path, monkeypatch):
    """A counter that first appears at 1 has no increase for rate(): the alert rule on dead
    letters would miss the first one. The dispatcher creates each destination's series at 0."""
    from prometheus_client import REGISTRY

    from streams.config import load_settings
    from streams.dispatch.dispatcher import DELIVERY_OUTCOMES, Dispatcher

    monkeypatch.setenv("S1", SECRET)
    config = load_config(write(tmp_path, "destinations:\n  - {name: zero-at-start, "
                                         "url: 'http://127.0.0.1:9/hook', secret_env: S1}\n"))
    labels = {"destination": "zero-at-start", "outcome": "dead_lettered"}
    assert REGISTRY.get_sample_value("vigil_webhook_deliveries_total", labels) is None
    Dispatcher(load_settings(), config)
    for outcome in DELIVERY_OUTCOMES:
        assert REGISTRY.get_sample_value("vigil_webhook_deliveries_total",
                                         {**labels, "outcome": outcome}) == 0.0
