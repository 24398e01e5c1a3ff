"""Standard Webhooks signing/verification, `vigil webhook verify`, and the webhook sink."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from standardwebhooks import Webhook

from streams.cli import main
from streams.dispatch.sink import WebhookSink, summary_line
from streams.dispatch.webhooks import check_secret, load_secret, new_secret, sign, verify
from streams.errors import CliError

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLWRpc3BhdGNoLXRlc3Rz"
OTHER = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA=="


def test_signature_verifies_and_tampering_fails():
    body = '{"a": 1}'
    headers = sign(SECRET, "msg_1", body)
    assert verify(SECRET, body, headers)
    assert verify(SECRET, body.encode(), {k.upper(): v for k, v in headers.items()})
    assert not verify(SECRET, body + " ", headers)
    assert not verify(OTHER, body, headers)
    assert not verify(SECRET, body, {**headers, "webhook-id": "msg_2"})
    assert not verify(SECRET, body, {k: v for k, v in headers.items() if k != "webhook-id"})
    assert not verify(SECRET, body, {**headers, "webhook-signature": "v1,garbage!"})


def test_signature_is_the_standard_one_checked_by_the_reference_package():
    body = '{"alert_id": "al_1"}'
    headers = sign(SECRET, "msg_1", body)
    assert Webhook(SECRET).verify(body, headers) == {"alert_id": "al_1"}
    assert headers["webhook-signature"].startswith("v1,")


def test_old_or_future_timestamps_are_refused():
    body = "{}"
    old = sign(SECRET, "m", body, now=datetime.now(UTC) - timedelta(minutes=6))
    future = sign(SECRET, "m", body, now=datetime.now(UTC) + timedelta(minutes=6))
    assert not verify(SECRET, body, old) and not verify(SECRET, body, future)


def test_rotation_signs_with_both_secrets_and_either_verifies():
    headers = sign([SECRET, OTHER], "msg_1", "{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(SECRET, "{}", headers) and verify(OTHER, "{}", headers)


def test_secret_checks_never_echo_the_value(tmp_path, monkeypatch):
    assert check_secret(SECRET, "x") == SECRET
    assert check_secret(new_secret(), "x").startswith("whsec_")
    for bad in ("plain-password-123", "whsec_c2hvcnQ="):
        with pytest.raises(CliError) as info:
            check_secret(bad, "$X")
        assert bad not in str(info.value)
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    with pytest.raises(CliError, match="UNSET_SECRET"):
        load_secret(env="UNSET_SECRET")
    (tmp_path / "s").write_text(SECRET + "\n")
    assert load_secret(file=str(tmp_path / "s")) == SECRET


def test_cli_verify_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIGIL_WEBHOOK_SECRET", SECRET)
    body = '{"alert_id": "al_1"}'
    (tmp_path / "body.json").write_text(body)
    (tmp_path / "headers.json").write_text(json.dumps(sign(SECRET, "msg_1", body)))
    args = ["webhook", "verify", "--headers", str(tmp_path / "headers.json"),
            "--body", str(tmp_path / "body.json")]
    assert main(args) == 0 and "signature valid" in capsys.readouterr().out
    (tmp_path / "body.json").write_text(body.replace("1", "2"))
    assert main(args) == 1 and "INVALID" in capsys.readouterr().out
    h = sign(SECRET, "msg_1", body)
    (tmp_path / "body.json").write_text(body)
    assert main(["webhook", "verify", "--body", str(tmp_path / "body.json"),
                 *[x for k, v in h.items() for x in ("-H", f"{k}: {v}")]]) == 0


def test_summary_line_has_severity_risk_reasons_and_latency():
    payload = {"severity": "high", "risk": 0.91, "alert_id": "al_1", "grouped_count": 3,
               "reasons": [{"detail": "shared phone"}, {"detail": "moved cities"}],
               "ingested_at": 100.0}
    line = summary_line(payload, received_at=101.5, redelivery=True)
    for part in ("HIGH", "risk 0.91", "al_1", "+2 folded", "1.50s after ingest",
                 "REDELIVERY", "shared phone; moved cities"):
        assert part in line


def test_sink_verifies_prints_and_stores(tmp_path, capsys):
    out = tmp_path / "received.jsonl"

    async def scenario():
        sink = WebhookSink(SECRET, out=out)
        port = await sink.start()
        body = json.dumps({"alert_id": "al_1", "severity": "critical", "risk": 0.99,
                           "grouped_alert_ids": ["al_1"], "reasons": [{"detail": "bank"}]})
        async with aiohttp.ClientSession() as http:
            statuses = []
            for secret in (SECRET, SECRET, OTHER):
                async with http.post(f"http://127.0.0.1:{port}/hook", data=body,
                                     headers=sign(secret, "msg_1", body)) as resp:
                    statuses.append(resp.status)
        await sink.stop()
        return sink, statuses

    sink, statuses = asyncio.run(scenario())
    assert statuses == [200, 200, 401]
    assert sink.alert_ids() == {"al_1"}
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["verified"] for r in records] == [True, True, False]
    assert [r.get("redelivery") for r in records[:2]] == [False, True]
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and "CRITICAL" in printed[0] and "REDELIVERY" in printed[1]


def test_the_documented_plain_hmac_snippet_verifies_our_signatures():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    after_marker = doc.split("<!-- snippet: plain-hmac", 1)[1]
    code = after_marker.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    snippet_verify = namespace["verify"]
    body = b'{"alert_id": "al_1"}'
    headers = sign([OTHER, SECRET], "msg_1", body.decode())
    assert snippet_verify(SECRET, headers, body)
    assert not snippet_verify(SECRET, headers, body + b" ")
    old = sign(SECRET, "msg_1", body.decode(), now=datetime.now(UTC) - timedelta(minutes=6))
    assert not snippet_verify(SECRET, old, body)
