"""Bearer tokens on `POST /ads`: the file, the comparison, rotation, and what the endpoint
answers without one (the producer here is a fake that records sends: this tests the handler's
logic; tests/integration/test_secure_stack.py reads the real topic)."""

from __future__ import annotations

import json
import os
import threading

import httpx
import pytest

from streams.config import Settings
from streams.ingest.auth import BearerTokens, TokenFileError, bearer_token, ingest_tokens, parse_tokens
from streams.ingest.http import make_http_server

TOKEN_A = "a" * 20 + "-first-token-0123456789"
TOKEN_B = "b" * 20 + "-second-token-012345678"
AD = {"ad_id": "h1", "source": "t", "posted_at": "2026-11-01T00:00:00Z", "title": "t", "body": "b",
      "location": {"city": "Reno", "region": "NV", "country": "US"}}


class RecordingProducer:
    """Stands in for the Kafka producer in this unit test only: remembers what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None:
        pass


@pytest.fixture
def tokens_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"# producers\n{TOKEN_A}\n\n")
    return path


def test_the_tokens_file_one_per_line_with_errors_naming_the_line():
    assert parse_tokens(f"# c\n\n  {TOKEN_A}  \n{TOKEN_B}\n", "F") == [(3, TOKEN_A.encode()), (4, TOKEN_B.encode())]
    with pytest.raises(TokenFileError, match="F line 2: a token needs at least 32 characters"):
        parse_tokens(f"{TOKEN_A}\nshort\n", "F")
    with pytest.raises(TokenFileError, match="F line 1: a token is one word"):
        parse_tokens(f"{TOKEN_A} {TOKEN_B}\n", "F")
    with pytest.raises(TokenFileError, match="F: no token in the file"):
        parse_tokens("# nothing yet\n", "F")
    with pytest.raises(TokenFileError) as caught:
        parse_tokens("short-secret-value\n", "F")
    assert "short-secret-value" not in str(caught.value), "a token is never echoed"


def test_bearer_header_parsing():
    assert bearer_token(f"Bearer {TOKEN_A}") == TOKEN_A.encode()
    assert bearer_token(f"bearer   {TOKEN_A} ") == TOKEN_A.encode()
    assert bearer_token(f"Basic {TOKEN_A}") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_several_tokens_are_valid_and_the_file_is_read_again_when_it_changes(tokens_file):
    tokens = BearerTokens(str(tokens_file))
    assert tokens.check(f"Bearer {TOKEN_A}").ok
    assert tokens.check(f"Bearer {TOKEN_A}").line == 2
    assert tokens.check(f"Bearer {TOKEN_B}").reason == "invalid"
    assert tokens.check(None).reason == "missing"
    assert tokens.check(f"Bearer {TOKEN_A[:-1]}").reason == "invalid"
    # rotation: add the new token, then drop the old one; no restart
    tokens_file.write_text(f"{TOKEN_A}\n{TOKEN_B}\n")
    os.utime(tokens_file, (1, 1))
    assert tokens.check(f"Bearer {TOKEN_B}").ok and tokens.check(f"Bearer {TOKEN_A}").ok
    tokens_file.write_text(f"{TOKEN_B}\n")
    os.utime(tokens_file, (2, 2))
    assert tokens.check(f"Bearer {TOKEN_A}").reason == "invalid" and tokens.check(f"Bearer {TOKEN_B}").ok
    # a broken edit keeps the tokens read before, rather than locking every producer out
    tokens_file.write_text("short\n")
    os.utime(tokens_file, (3, 3))
    assert tokens.check(f"Bearer {TOKEN_B}").ok


def test_tokens_are_required_beyond_loopback_and_optional_on_it(monkeypatch, tokens_file):
    for name in ("VIGIL_INGEST_TOKENS_FILE", "VIGIL_BIND"):
        monkeypatch.delenv(name, raising=False)
    assert ingest_tokens(Settings()) is None
    monkeypatch.setenv("VIGIL_BIND", "0.0.0.0")
    with pytest.raises(TokenFileError) as caught:
        ingest_tokens(Settings())
    assert str(caught.value).startswith("VIGIL_BIND=0.0.0.0 would let anyone who reaches this port post ads: "
                                        "set VIGIL_INGEST_TOKENS_FILE")
    monkeypatch.setenv("VIGIL_INGEST_TOKENS_FILE", str(tokens_file))
    assert len(ingest_tokens(Settings())) == 1
    monkeypatch.setenv("VIGIL_INGEST_TOKENS_FILE", str(tokens_file.parent / "missing"))
    with pytest.raises(TokenFileError, match="VIGIL_INGEST_TOKENS_FILE=.*missing: no such file"):
        ingest_tokens(Settings())


@pytest.fixture
def endpoint(tokens_file):
    producer = RecordingProducer()
    server = make_http_server(Settings(), producer, 0, BearerTokens(str(tokens_file)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", producer
    server.shutdown()
    server.server_close()


def test_a_post_without_a_valid_token_is_401_with_a_challenge_and_produces_nothing(endpoint, caplog):
    base, producer = endpoint
    missing = httpx.post(f"{base}/ads", json=AD)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="vigil-ingest"'
    assert missing.json() == {"error": "unauthorized",
                              "reason": "POST /ads needs an 'Authorization: Bearer <token>' header"}
    wrong = httpx.post(f"{base}/ads", json=AD, headers={"Authorization": f"Bearer {TOKEN_B}"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="vigil-ingest", error="invalid_token"'
    assert wrong.json()["reason"] == "the bearer token is not one this endpoint accepts"
    big = httpx.post(f"{base}/ads", content=b"x" * 3_000_000)  # a refused body is read, not reset
    assert big.status_code == 401
    assert producer.sent == []
    ok = httpx.post(f"{base}/ads", json=AD, headers={"Authorization": f"Bearer {TOKEN_A}"})
    assert ok.status_code == 202 and ok.json() == {"accepted": ["h1"]}
    assert [json.loads(v)["ad_id"] for _, _, v in producer.sent] == ["h1"]
    assert httpx.get(f"{base}/metrics").status_code == 200, "metrics stay open (counts only)"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert TOKEN_A not in logged and TOKEN_B not in logged
