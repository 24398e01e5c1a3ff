"""Standard Webhooks signing and verification, and `vigil webhook verify`.

Headers: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`; secrets are `whsec_<base64>`. Receivers can verify with the
`standardwebhooks` package (see docs/webhooks.md) or this module.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from streams.errors import CliError


def load_secret(*, env: str | None = None, file: str | None = None) -> str:
    """A signing secret from an environment variable or a file (never from the config itself)."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise CliError(f"environment variable {env} (webhook secret) is not set")
        return value.strip()
    if file:
        try:
            return Path(file).read_text().strip()
        except FileNotFoundError as exc:
            raise CliError(f"webhook secret file not found: {file}") from exc
    raise CliError("a destination needs secret_env or secret_file")


def sign(secret: str, msg_id: str, body: str, *, now: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`."""
    timestamp = now or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, timestamp, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def verify(secret: str, body: bytes | str, headers: dict[str, str]) -> bool:
    """True if the signature is valid and the timestamp within 5 minutes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        Webhook(secret).verify(body, lowered, json_parse=False)
    except (WebhookVerificationError, ValueError, KeyError):
        return False
    return True


def _cmd_verify(args) -> int:
    secret = load_secret(env=args.secret_env, file=args.secret_file)
    body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
    headers = json.loads(Path(args.headers).read_text())
    ok = verify(secret, body, headers)
    print("signature valid" if ok else "signature INVALID")
    return 0 if ok else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("webhook", help="webhook utilities")
    sub = p.add_subparsers(dest="webhook_command", required=True)
    v = sub.add_parser("verify", help="check a received webhook's signature")
    v.add_argument("--headers", required=True, help="JSON file of the received headers")
    v.add_argument("--body", default="-", help="file with the raw body (default stdin)")
    v.add_argument("--secret-env", default="VIGIL_WEBHOOK_SECRET")
    v.add_argument("--secret-file")
    v.set_defaults(func=_cmd_verify)
