"""`vigil console`: serve the web app; `vigil console user add|list|disable`: manage its users."""

from __future__ import annotations

import getpass
import logging
import secrets
import sys

from streams.config import load_settings
from streams.errors import CliError

log = logging.getLogger(__name__)


def phone_region(value: str) -> str:
    """The console's default region for numbers searched without a +code (ISO 3166 alpha-2)."""
    import phonenumbers

    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise CliError(f"unknown phone region {value!r}: give an ISO 3166 alpha-2 code such as US, GB, AU")
    return region


def console_context(settings, engine, *, secure_cookies: bool, region: str = "US"):
    """The app's outside world: feedback onto the `feedback` topic exactly as `vigil feedback`
    does, hash banks from Redis; `region` reads searched numbers written without a +code."""
    from streams.banks.store import BankStore
    from streams.clients import redis_client
    from streams.config import redis_prefix
    from streams.console.app import ConsoleContext
    from streams.model.feedback import feedback_record, send_feedback

    banks = BankStore(redis_client(settings), redis_prefix(settings))
    return ConsoleContext(engine=engine, send_feedback=lambda record: send_feedback(settings, record),
                          load_banks=banks.load_all, secure_cookies=secure_cookies, feedback_record=feedback_record,
                          region=region)


def serve(args) -> int:
    import os

    import uvicorn

    from streams.console import metrics
    from streams.console.app import create_app, is_loopback
    from streams.metrics import bind_address, serve_metrics
    from streams.preflight import preflight
    from streams.store.db import open_store_engine

    settings = load_settings()
    region = phone_region(args.phone_region)
    # Kafka (feedback) and Redis (hash banks for photo search): one line per problem, up front
    preflight(settings)
    engine = open_store_engine(args.url or settings.store_url)
    host = args.host or bind_address()
    # Secure cookies unless the console only listens on loopback (VIGIL_CONSOLE_SECURE_COOKIES=1 forces them)
    secure = os.environ.get("VIGIL_CONSOLE_SECURE_COOKIES") == "1" or not is_loopback(host)
    app = create_app(console_context(settings, engine, secure_cookies=secure, region=region))
    if args.metrics_port:
        metrics.initialise_console_series(app.route_templates())
        serve_metrics(args.metrics_port)
        log.info("metrics on http://%s:%d/metrics", bind_address(), args.metrics_port)
    log.info("console on http://%s:%d/ (store %s)", host, args.port, engine.url.render_as_string(hide_password=True))
    # no access log: request lines carry searched phone numbers and names in their query strings
    uvicorn.run(app, host=host, port=args.port, log_config=None, access_log=False, server_header=False,
                proxy_headers=True, forwarded_allow_ips=os.environ.get("VIGIL_CONSOLE_TRUSTED_PROXIES", "127.0.0.1"))
    return 0


def generated_password() -> str:
    return secrets.token_urlsafe(15)


def user_command(args) -> int:
    from streams.console import auth
    from streams.store.db import open_store_engine

    engine = open_store_engine(args.url or load_settings().store_url)
    if args.user_action == "list":
        for user in auth.list_users(engine):
            print(f"{user['name']}\t{user['role']}\t{'disabled' if user['disabled'] else 'active'}")
        return 0
    if args.user_action == "disable":
        if not auth.set_disabled(engine, args.name, True):
            raise CliError(f"no user {args.name!r}")
        print(f"user {args.name} disabled (sessions ended)")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name} (empty: generate one): ")
    else:
        password = ""
    shown = not password
    password = password or generated_password()
    try:
        auth.add_user(engine, args.name, args.role, password)
    except auth.UserError as exc:
        raise CliError(str(exc)) from exc
    print(f"user {args.name} added with role {args.role}")
    if shown:
        print(f"password (shown once): {password}")
    return 0


def register(subparsers) -> None:
    settings = load_settings()
    p = subparsers.add_parser("console", help="the investigators' web console (and its users)")
    p.add_argument("--url", default=None, help="store URL (default VIGIL_STORE_URL, else SQLite in .stack/store)")
    p.add_argument("--host", default=None, help="listen address (default VIGIL_BIND, 127.0.0.1)")
    p.add_argument("--port", type=int, default=settings.console_port, help="HTTP port (default VIGIL_CONSOLE_PORT)")
    p.add_argument("--metrics-port", type=int, default=settings.console_metrics_port,
                   help="Prometheus /metrics port (0: off)")
    p.add_argument("--phone-region", default=settings.phone_region,
                   help="region of searched phone numbers written without a +code, ISO 3166 alpha-2 "
                        "(default VIGIL_PHONE_REGION, else US)")
    p.set_defaults(func=serve)
    sub = p.add_subparsers(dest="console_action")
    user = sub.add_parser("user", help="add, list or disable console users")
    user_sub = user.add_subparsers(dest="user_action", required=True)
    add = user_sub.add_parser("add", help="add a user (asks for a password; empty: one is generated, shown once)")
    add.add_argument("name")
    add.add_argument("--role", choices=("analyst", "admin"), default="analyst")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    user_sub.add_parser("list", help="list users")
    disable = user_sub.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("name")
    for q in (add, user_sub.choices["list"], disable):
        q.set_defaults(func=user_command)
