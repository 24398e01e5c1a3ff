"""Standard Webhooks signing and verification, and `vigil webhook verify`.

Headers: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` (several space-separated signatures while a secret is rotated); secrets
are `whsec_<base64>`. Receivers can verify with the `standardwebhooks` package (see
docs/webhooks.md) or this module. Secrets are never printed or logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from streams.errors import CliError

SECRET_PREFIX = "whsec_"


def check_secret(secret: str, where: str) -> str:
    """The secret if it is `whsec_` + base64 of at least 16 bytes; else a CliError that names
    where it came from (never the value)."""
    if not secret.startswith(SECRET_PREFIX):
        raise CliError(f"webhook secret from {where} must start with '{SECRET_PREFIX}'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):] + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise CliError(f"webhook secret from {where} is not base64 after '{SECRET_PREFIX}'") \
            from exc
    if len(key) < 16:
        raise CliError(f"webhook secret from {where} is too short (need >= 16 bytes of key)")
    return secret


def load_secret(*, env: str | None = None, file: str | None = None) -> str:
    """A signing secret from an environment variable or a file (never from the config itself)."""
    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise CliError(f"environment variable {env} (webhook secret) is not set")
        return check_secret(value, f"${env}")
    if file:
        try:
            return check_secret(Path(file).read_text().strip(), file)
        except FileNotFoundError as exc:
            raise CliError(f"webhook secret file not found: {file}") from exc
    raise CliError("a destination needs secret_env or secret_file")


def secret_from_args(args) -> str:
    """The secret named by --secret-file (if given) or --secret-env."""
    if getattr(args, "secret_file", None):
        return load_secret(file=args.secret_file)
    return load_secret(env=args.secret_env)


def new_secret() -> str:
    """A fresh `whsec_` secret (24 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(24)).decode("ascii")


def sign(secrets: str | Sequence[str], msg_id: str, body: str, *,
         now: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for `body`, signed with every given secret."""
    timestamp = now or datetime.now(UTC)
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    signature = " ".join(Webhook(k).sign(msg_id, timestamp, body) for k in keys)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def verify(secret: str, body: bytes | str, headers: dict[str, str]) -> bool:
    """True if one signature matches and the timestamp is within 5 minutes (constant-time)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        Webhook(secret).verify(body, lowered, json_parse=False)
    except (WebhookVerificationError, ValueError, KeyError):
        return False
    return True


def _read_headers(args) -> dict[str, str]:
    headers: dict[str, str] = {}
    if args.headers:
        try:
            headers.update(json.loads(Path(args.headers).read_text()))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read headers JSON {args.headers}: {exc}") from exc
    for item in args.header or []:
        name, sep, value = item.partition(":")
        if not sep:
            raise CliError(f"--header wants 'name: value', got {item!r}")
        headers[name.strip()] = value.strip()
    if not headers:
        raise CliError("give the received headers with --headers FILE or -H 'name: value'")
    return headers


def _cmd_verify(args) -> int:
    secret = secret_from_args(args)
    headers = _read_headers(args)
    body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
    ok = verify(secret, body, headers)
    print("signature valid" if ok else "signature INVALID (or timestamp over 5 minutes off)")
    return 0 if ok else 1


def _cmd_new_secret(_args) -> int:
    print(new_secret())
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("webhook", help="webhook utilities (verify, new-secret)")
    sub = p.add_subparsers(dest="webhook_command", required=True)
    v = sub.add_parser("verify", help="check a received webhook's signature (exit 0 if valid)")
    v.add_argument("--headers", help="JSON file of the received headers")
    v.add_argument("-H", "--header", action="append", help="a received header 'name: value'")
    v.add_argument("--body", default="-", help="file with the raw body (default stdin)")
    v.add_argument("--secret-env", default="VIGIL_WEBHOOK_SECRET")
    v.add_argument("--secret-file", help="read the secret from this file instead")
    v.set_defaults(func=_cmd_verify)
    n = sub.add_parser("new-secret", help="print a fresh whsec_ secret")
    n.set_defaults(func=_cmd_new_secret)
