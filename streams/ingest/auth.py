"""Bearer tokens for `POST /ads` on `vigil ingest --http`.

The tokens live in a file (`VIGIL_INGEST_TOKENS_FILE`), one per line, `#` comments allowed.
Several tokens may be valid at once, so a token is rotated by adding the new line, moving the
producers over and then deleting the old line; the file is read again when it changes, no
restart needed. A token is compared in constant time (hmac.compare_digest) against every token
in the file, and never logged: a log line names the line of the file that matched.

A listener that binds beyond loopback refuses to start without tokens; on loopback they are
optional (set the file and they are required there too).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from streams.config import Settings, is_loopback
from streams.errors import CliError

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 32
SETTING = "VIGIL_INGEST_TOKENS_FILE"


class TokenFileError(CliError):
    """The tokens file cannot be used; the message names the setting, the file and the line."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one request's Authorization header."""

    ok: bool
    reason: str  # "ok", "missing" (no bearer token) or "invalid" (not one of the tokens)
    line: int | None = None  # the line of the tokens file that matched


def parse_tokens(text: str, where: str) -> list[tuple[int, bytes]]:
    """(line number, token) for each token in a tokens file's text; a token that is too short or
    holds a space is an error naming its line (the token itself is never echoed)."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line.split()) != 1:
            raise TokenFileError(f"{where} line {number}: a token is one word, without spaces")
        if len(line) < MIN_TOKEN_CHARS:
            raise TokenFileError(f"{where} line {number}: a token needs at least {MIN_TOKEN_CHARS} characters "
                                 f"(e.g. `openssl rand -hex 32`)")
        found.append((number, line.encode()))
    if not found:
        raise TokenFileError(f"{where}: no token in the file (one per line)")
    return found


def bearer_token(header: str | None) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token.encode() if scheme.lower() == "bearer" and token else None


class BearerTokens:
    """The tokens of one file, read again whenever the file changes."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.where = f"{SETTING}={path}"
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._tokens: list[tuple[int, bytes]] = []
        self._reload(initial=True)

    def _file_stamp(self) -> tuple[float, int]:
        stat = os.stat(self.path)
        return stat.st_mtime, stat.st_size

    def _reload(self, initial: bool = False) -> None:
        try:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return
            tokens = parse_tokens(self.path.read_text(encoding="utf-8"), self.where)
        except FileNotFoundError as exc:
            if initial:
                raise TokenFileError(f"{self.where}: no such file") from exc
            log.warning("%s has gone; the tokens read before stay valid", self.where)
            return
        except (OSError, UnicodeDecodeError) as exc:
            if initial:
                raise TokenFileError(f"{self.where}: cannot read it ({exc})") from exc
            log.warning("%s cannot be read (%s); the tokens read before stay valid", self.where,
                        type(exc).__name__)
            return
        except TokenFileError as exc:
            if initial:
                raise
            log.warning("%s; the tokens read before stay valid", exc)
            return
        self._tokens, self._stamp = tokens, stamp
        if not initial:
            log.info("ingest tokens read again from %s: %d token(s)", self.path, len(tokens))

    def __len__(self) -> int:
        return len(self._tokens)

    def check(self, authorization: str | None) -> Verdict:
        """Whether an Authorization header carries one of the tokens (constant-time comparison
        against each token, without stopping at the first match)."""
        with self._lock:
            self._reload()
            tokens = list(self._tokens)
        given = bearer_token(authorization)
        if given is None:
            return Verdict(False, "missing")
        matched = None
        for number, token in tokens:
            if hmac.compare_digest(given, token) and matched is None:
                matched = number
        return Verdict(True, "ok", matched) if matched is not None else Verdict(False, "invalid")

    def first(self) -> str:
        """The first token (for a client on this machine, e.g. `vigil demo`)."""
        return self._tokens[0][1].decode()


def ingest_tokens(settings: Settings) -> BearerTokens | None:
    """The tokens `POST /ads` requires: from VIGIL_INGEST_TOKENS_FILE, required beyond loopback
    (a CliError says why when the file is not set); None on loopback without the file."""
    if settings.ingest_tokens_file:
        return BearerTokens(settings.ingest_tokens_file)
    if not is_loopback(settings.bind):
        raise TokenFileError(f"VIGIL_BIND={settings.bind} would let anyone who reaches this port post ads: "
                             f"set {SETTING} to a file of bearer tokens (one per line, at least "
                             f"{MIN_TOKEN_CHARS} characters each, e.g. `openssl rand -hex 32`)")
    return None
