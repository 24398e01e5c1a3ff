"""Users, roles, sessions, CSRF tokens, login throttling and the audit log (in the store's database).

- Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).
- A session is a random 256-bit token in an HttpOnly cookie; the database keeps only its
  SHA-256, with the session's CSRF token and expiry (synchroniser-token CSRF: every form
  carries the session's token, every POST is refused without it).
- Logins are throttled per user name and per client address over a sliding window; every
  attempt is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from streams.store import schema

ROLES = ("analyst", "admin")
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{1,49}")
MIN_PASSWORD = 12
SESSION_S = 12 * 3600
THROTTLE_WINDOW_S = 15 * 60
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_CLIENT = 20

_hasher = PasswordHasher()
# verified against when the user does not exist, so a missing name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user could not be created or changed: the message says why."""


class Throttled(Exception):
    """Too many failed logins: `retry_after` seconds until the window frees up."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: float


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(expected, given) -> bool:
    """Constant-time comparison; an empty, missing or non-text token never matches."""
    if not isinstance(expected, str) or not isinstance(given, str) or not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


# ---------------------------------------------------------------- users


def add_user(engine: Engine, name: str, role: str, password: str) -> User:
    if not NAME.fullmatch(name or ""):
        raise UserError(f"user name {name!r}: 2-50 characters, lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    try:
        with engine.begin() as conn:
            user_id = conn.execute(insert(schema.users).values(
                name=name, role=role, password_hash=_hasher.hash(password), disabled=False,
                created_at=time.time())).inserted_primary_key[0]
    except IntegrityError as exc:
        raise UserError(f"user {name!r} exists already") from exc
    return User(int(user_id), name, role)


def set_disabled(engine: Engine, name: str, disabled: bool) -> bool:
    """Disable (or enable) a user; a disabled user's sessions end at once. False: no such user."""
    with engine.begin() as conn:
        user_id = conn.scalar(select(schema.users.c.id).where(schema.users.c.name == name))
        if user_id is None:
            return False
        conn.execute(update(schema.users).where(schema.users.c.id == user_id).values(disabled=disabled))
        if disabled:
            conn.execute(delete(schema.sessions).where(schema.sessions.c.user_id == user_id))
        return True


def list_users(engine: Engine) -> list[dict]:
    u = schema.users.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(u.name, u.role, u.disabled, u.created_at).order_by(u.name))
                .mappings()]


# ---------------------------------------------------------------- login


def _failures(conn, column, value: str, since: float) -> tuple[int, float | None]:
    a = schema.login_attempts.c
    row = conn.execute(select(func.count(), func.min(a.at)).where(column == value, a.ok.is_(False),
                                                                  a.at >= since)).first()
    return int(row[0] or 0), row[1]


def authenticate(engine: Engine, name: str, password: str, client: str, now: float | None = None) -> User | None:
    """The user if the name and password are right; None if not; Throttled after too many
    failures for this name or from this client within the window (checked before the password)."""
    now = time.time() if now is None else now
    name = (name or "").strip().lower()[:100]
    client = (client or "unknown")[:64]
    a = schema.login_attempts.c
    with engine.begin() as conn:
        since = now - THROTTLE_WINDOW_S
        for column, value, limit in ((a.name, name, MAX_FAILURES_PER_NAME),
                                     (a.client, client, MAX_FAILURES_PER_CLIENT)):
            failed, oldest = _failures(conn, column, value, since)
            if failed >= limit:
                raise Throttled(max(1, int((oldest or now) + THROTTLE_WINDOW_S - now)))
        row = conn.execute(select(schema.users).where(schema.users.c.name == name)).mappings().first()
        ok = False
        try:
            ok = _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        ok = ok and row is not None and not row["disabled"]
        conn.execute(insert(schema.login_attempts).values(name=name, client=client, ok=ok, at=now))
        if ok and _hasher.check_needs_rehash(row["password_hash"]):
            conn.execute(update(schema.users).where(schema.users.c.id == row["id"])
                         .values(password_hash=_hasher.hash(password)))
    return User(int(row["id"]), row["name"], row["role"]) if ok else None


# ---------------------------------------------------------------- sessions


def new_session(engine: Engine, user: User, now: float | None = None) -> tuple[str, str]:
    """(cookie token, CSRF token) of a new session for `user`."""
    now = time.time() if now is None else now
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(schema.sessions).where(schema.sessions.c.expires_at < now))
        conn.execute(insert(schema.sessions).values(token_hash=token_digest(token), user_id=user.id,
                                                    csrf_token=csrf, created_at=now, expires_at=now + SESSION_S))
    return token, csrf


def session_for(engine: Engine, token: str | None, now: float | None = None) -> Session | None:
    """The live session of a cookie token (None when absent, unknown, expired or the user disabled)."""
    if not token or len(token) > 200:
        return None
    now = time.time() if now is None else now
    s, u = schema.sessions.c, schema.users.c
    with engine.connect() as conn:
        row = conn.execute(select(s.csrf_token, s.expires_at, u.id, u.name, u.role, u.disabled)
                           .select_from(schema.sessions.join(schema.users, u.id == s.user_id))
                           .where(s.token_hash == token_digest(token))).mappings().first()
    if row is None or row["expires_at"] < now or row["disabled"]:
        return None
    return Session(User(int(row["id"]), row["name"], row["role"]), row["csrf_token"], row["expires_at"])


def end_session(engine: Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(delete(schema.sessions).where(schema.sessions.c.token_hash == token_digest(token)))


# ---------------------------------------------------------------- audit


def audit(engine: Engine, user: str, action: str, target: str, client: str | None = None,
          now: float | None = None) -> None:
    """One line of the audit log: who did what to which target, from where, when."""
    with engine.begin() as conn:
        conn.execute(insert(schema.audit_log).values(at=time.time() if now is None else now, user_name=user[:100],
                                                     action=action[:30], target=target[:2000],
                                                     client=(client or "")[:64]))
