"""The console's web app (Starlette, Jinja2 templates rendered on the server, no JavaScript).

Every route but /login, /static and /healthz needs a session; /admin needs the admin role;
every POST needs the session's CSRF token (the login form a double-submit cookie); searches,
views, exports, feedback and status changes are written to the audit log.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, insert, update
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles

from detectors.images.hashing import ImageFetchError, decode_image, dihedral_hashes, query_variants
from detectors.text.phones import extract_phones
from streams.console import auth, metrics
from streams.console.casefile import case_csv, case_json
from streams.console.charts import city_timeline_svg
from streams.console.highlight import highlighted_fields
from streams.store import queries, schema

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "vigil_session"
LOGIN_CSRF_COOKIE = "vigil_login_csrf"
PUBLIC = ("/login", "/static/", "/healthz")
SEVERITY_FILTERS = ("low", "medium", "high", "critical")
SEARCH_KINDS = ("auto", "phone", "email", "handle", "text")
MAX_UPLOAD = 10 * 1024 * 1024
MAX_BODY = MAX_UPLOAD + 1024 * 1024  # a photo and a form around it
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


@dataclass
class ConsoleContext:
    """What the app needs from the outside: the store, how to send feedback, the banks."""

    engine: Engine
    send_feedback: Callable[[dict], None]  # produce one record onto the feedback topic
    load_banks: Callable[[], object]  # a detectors.images.banks.BankSet
    secure_cookies: bool = False
    region: str = "US"  # default region for phone numbers written without a country code
    feedback_record: Callable[..., dict] | None = None
    extra: dict = field(default_factory=dict)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- presentation helpers


def fmt_ts(ts: float | None, with_time: bool = True, seconds: bool = False) -> str:
    if ts is None:
        return "–"
    shape = ("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC") if with_time else "%Y-%m-%d"
    return datetime.fromtimestamp(ts, UTC).strftime(shape)


def cluster_url(cluster_id: str) -> str:
    return "/clusters/" + urllib.parse.quote(cluster_id, safe="")


def ad_url(ad_id: str) -> str:
    return "/ads/" + urllib.parse.quote(ad_id, safe="")


def alert_url(alert_id: str) -> str:
    return "/alerts/" + urllib.parse.quote(alert_id, safe="")


def search_url(kind: str, q: str) -> str:
    return "/search?" + urllib.parse.urlencode({"kind": kind, "q": q})


def parse_day(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def safe_next(value: str | None) -> str:
    """Only a path on this site (never //host or a scheme) is followed after login."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(ctx: ConsoleContext) -> Starlette:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(fmt_ts=fmt_ts, cluster_url=cluster_url, ad_url=ad_url, alert_url=alert_url,
                       search_url=search_url, statuses=queries.STATUSES, severities=SEVERITY_FILTERS)
    env.filters["pct"] = lambda v: f"{100 * float(v or 0):.0f}%"
    env.filters["ads"] = lambda n: f"{n} ad" if n == 1 else f"{n} ads"
    engine = ctx.engine

    def run(fn, *args, **kwargs):
        return run_in_threadpool(fn, *args, **kwargs)

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        session = request.scope.get("state", {}).get("session")
        html = env.get_template(name).render(session=session, user=session.user if session else None,
                                             csrf=session.csrf_token if session else "", request=request,
                                             **context)
        return HTMLResponse(html, status_code=status)

    def session_of(request: Request) -> auth.Session:
        return request.scope["state"]["session"]

    def audit(request: Request, action: str, target: str) -> None:
        session = request.scope.get("state", {}).get("session")
        auth.audit(engine, session.user.name if session else "-", action, target, client_of(request))

    async def checked_form(request: Request) -> FormData:
        """The POSTed form, once its CSRF token is the session's (403 otherwise)."""
        form = await request.form(max_part_size=MAX_UPLOAD)
        given = form.get("csrf_token") or request.headers.get("x-csrf-token")
        if not auth.tokens_match(session_of(request).csrf_token, given):
            raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")
        return form

    def require_admin(request: Request) -> None:
        if not session_of(request).user.is_admin:
            raise HTTPException(403, "this page is for administrators")

    # ------------------------------------------------------------ login

    async def login_page(request: Request) -> Response:
        if request.scope["state"].get("session"):
            return RedirectResponse("/", 303)
        # kept while the cookie lives: another tab, or the browser's own /favicon.ico request that
        # is redirected here, must not invalidate the form already shown
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if len(token) != 43:
            token = secrets.token_urlsafe(32)
        response = render(request, "login.html", token=token, next=safe_next(request.query_params.get("next")),
                          message=None)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                            secure=ctx.secure_cookies)
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        if not auth.tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token")):
            raise HTTPException(403, "CSRF token missing or wrong: reload the login page and try again")
        name, password = str(form.get("name") or ""), str(form.get("password") or "")
        target = safe_next(str(form.get("next") or "/"))
        token = str(form.get("csrf_token"))
        try:
            user = await run(auth.authenticate, engine, name, password, client_of(request))
        except auth.Throttled as exc:
            metrics.LOGINS.labels("throttled").inc()
            await run(auth.audit, engine, name.lower()[:100] or "-", "login_throttled", "console", client_of(request))
            response = render(request, "login.html", status=429, token=token, next=target,
                              message=f"Too many failed logins. Try again in {exc.retry_after} s.")
            response.headers["retry-after"] = str(exc.retry_after)
            return response
        if user is None:
            metrics.LOGINS.labels("refused").inc()
            await run(auth.audit, engine, name.lower()[:100] or "-", "login_failed", "console", client_of(request))
            return render(request, "login.html", status=401, token=token, next=target,
                          message="Wrong name or password.")
        metrics.LOGINS.labels("ok").inc()
        session_token, _ = await run(auth.new_session, engine, user)
        await run(auth.audit, engine, user.name, "login", "console", client_of(request))
        response = RedirectResponse(target, 303)
        response.set_cookie(SESSION_COOKIE, session_token, max_age=auth.SESSION_S, httponly=True, samesite="lax",
                            secure=ctx.secure_cookies, path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    async def logout(request: Request) -> Response:
        await checked_form(request)
        await run(auth.end_session, engine, request.cookies.get(SESSION_COOKIE))
        await run(audit, request, "logout", "console")
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=ctx.secure_cookies)
        return response

    # ------------------------------------------------------------ inbox and alerts

    def inbox_filters(request: Request) -> dict:
        q = request.query_params
        page = max(1, int(q.get("page") or 1)) if (q.get("page") or "1").isdigit() else 1
        return {"severity": q.get("severity") if q.get("severity") in SEVERITY_FILTERS else None,
                "status": q.get("status") if q.get("status") in queries.STATUSES else None,
                "city": (q.get("city") or "").strip()[:100] or None,
                "since": parse_day(q.get("since")), "until": parse_day(q.get("until")),
                "page": page}

    def load_inbox(filters: dict) -> tuple[list[dict], list[str]]:
        with engine.connect() as conn:
            rows = queries.inbox(conn, severity=filters["severity"], status=filters["status"], city=filters["city"],
                                 since=filters["since"], until=(filters["until"] + 86400) if filters["until"] else None,
                                 limit=50, offset=50 * (filters["page"] - 1))
            return rows, queries.inbox_cities(conn)

    async def inbox(request: Request) -> Response:
        filters = inbox_filters(request)
        rows, cities = await run(load_inbox, filters)
        shown = {k: v for k, v in request.query_params.items() if k in ("severity", "status", "city", "since", "until")}
        await run(audit, request, "view_inbox", json.dumps(shown, sort_keys=True) if shown else "all")
        def page_url(n: int) -> str:
            return "/?" + urllib.parse.urlencode({**shown, "page": n})

        return render(request, "inbox.html", alerts=rows, cities=cities, filters=filters, query=request.query_params,
                      newer=page_url(filters["page"] - 1) if filters["page"] > 1 else None,
                      older=page_url(filters["page"] + 1) if len(rows) == 50 else None)

    def load_ad_page(ad_id: str) -> dict | None:
        with engine.connect() as conn:
            ad = queries.ad(conn, ad_id)
            if ad is None:
                return None
            return {"ad": ad, "alerts": queries.alerts_of_ad(conn, ad_id),
                    "fields": highlighted_fields(ad["record"], ad["title"], ad["body"])}

    async def alert_page(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]

        def load():
            with engine.connect() as conn:
                return queries.alert(conn, alert_id)

        alert = await run(load)
        if alert is None:
            raise HTTPException(404, "no such alert in the store")
        page = await run(load_ad_page, alert["ad_id"])
        await run(audit, request, "view_alert", alert_id)
        return render(request, "alert.html", alert=alert, page=page, message=request.query_params.get("done"))

    async def alert_status(request: Request) -> Response:
        form = await checked_form(request)
        alert_id, status = request.path_params["alert_id"], str(form.get("status") or "")
        if status not in queries.STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(queries.STATUSES)}")
        actor, now = session_of(request).user.name, time.time()

        def change() -> int:
            with engine.begin() as conn:
                changed = conn.execute(update(schema.alerts).where(schema.alerts.c.alert_id == alert_id)
                                       .values(status=status, status_by=actor, status_at=now)).rowcount
                if changed:
                    conn.execute(insert(schema.alert_events).values(alert_id=alert_id, kind="status", value=status,
                                                                    actor=actor, at=now))
                return changed

        if not await run(change):
            raise HTTPException(404, "no such alert in the store")
        await run(audit, request, "status", f"{alert_id} -> {status}")
        return RedirectResponse(alert_url(alert_id) + "?done=status", 303)

    async def alert_feedback(request: Request) -> Response:
        form = await checked_form(request)
        alert_id = request.path_params["alert_id"]
        label_text = str(form.get("label") or "")
        if label_text not in ("true", "false"):
            raise HTTPException(400, "label must be true or false")
        note = str(form.get("note") or "").strip()[:2000] or None

        def load():
            with engine.connect() as conn:
                return queries.alert(conn, alert_id)

        alert = await run(load)
        if alert is None:
            raise HTTPException(404, "no such alert in the store")
        actor = session_of(request).user.name
        record = ctx.feedback_record(alert_id, label_text == "true", note=note, ad_id=alert["ad_id"], analyst=actor)
        try:
            await run(ctx.send_feedback, record)
        except Exception as exc:  # noqa: BLE001 - the analyst is told; nothing is recorded as sent
            raise HTTPException(503, f"feedback not recorded: the feedback topic is unreachable "
                                     f"({type(exc).__name__}); try again") from exc

        def remember():
            with engine.begin() as conn:
                conn.execute(insert(schema.alert_events).values(alert_id=alert_id, kind="feedback", value=label_text,
                                                                note=note, actor=actor, at=record["at"]))

        await run(remember)
        await run(audit, request, "feedback", f"{alert_id} {label_text}")
        return RedirectResponse(alert_url(alert_id) + "?done=feedback", 303)

    # ------------------------------------------------------------ ads and clusters

    async def ad_page(request: Request) -> Response:
        ad_id = request.path_params["ad_id"]
        page = await run(load_ad_page, ad_id)
        if page is None:
            raise HTTPException(404, "no such ad in the store")
        await run(audit, request, "view_ad", ad_id)
        return render(request, "ad.html", page=page)

    def load_cluster(cluster_id: str):
        with engine.connect() as conn:
            return queries.cluster(conn, cluster_id)

    async def cluster_page(request: Request) -> Response:
        cluster_id = request.path_params["cluster_id"]
        view = await run(load_cluster, cluster_id)
        if view is None:
            raise HTTPException(404, "no such cluster in the store")
        await run(audit, request, "view_cluster", cluster_id)
        return render(request, "cluster.html", view=view, chart=city_timeline_svg(view.timeline))

    async def cluster_export(request: Request) -> Response:
        cluster_id, fmt = request.path_params["cluster_id"], request.path_params["fmt"]
        if fmt not in ("csv", "json"):
            raise HTTPException(404, "export as csv or json")
        user = session_of(request).user.name

        def build():
            with engine.connect() as conn:
                view = queries.cluster(conn, cluster_id)
                if view is None:
                    return None
                ads = [queries.ad(conn, a["ad_id"]) for a in view.ads]
                return case_json(cluster_id, view.summary, [a for a in ads if a], exported_by=user,
                                 exported_at=time.time(), merged_into=view.merged_into)

        case = await run(build)
        if case is None:
            raise HTTPException(404, "no such cluster in the store")
        await run(audit, request, "export", f"{cluster_id} {fmt} ({case['size']} ads)")
        stem = "cluster-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in cluster_id)[:80]
        disposition = {"content-disposition": f'attachment; filename="{stem}.{fmt}"'}
        if fmt == "csv":
            return Response(case_csv(case), media_type="text/csv; charset=utf-8", headers=disposition)
        return Response(json.dumps(case, ensure_ascii=False, indent=1), media_type="application/json",
                        headers=disposition)

    # ------------------------------------------------------------ search

    def normalise_query(kind: str, q: str) -> tuple[str, list[str], str | None]:
        """(kind searched, values, error): phones become E.164 with the project's extractor."""
        q = q.strip()[:500]
        if kind == "auto":
            if "@" in q and " " not in q:
                kind = "email"
            elif extract_phones(q, ctx.region):
                kind = "phone"
            elif ":" in q and " " not in q:
                kind = "handle"
            else:
                kind = "text"
        if kind == "phone":
            phones = list(dict.fromkeys(p for p, _, _ in extract_phones(q, ctx.region)))
            if not phones and q.startswith("+"):
                phones = list(dict.fromkeys(p for p, _, _ in extract_phones(q, None)))
            return kind, phones, None if phones else "no phone number could be read in that"
        if kind == "email":
            return kind, [q.lower()], None if "@" in q else "an e-mail address needs an @"
        if kind == "handle":
            return kind, [q.lower()], None
        return "text", queries.text_words(q), None if queries.text_words(q) else "no words to search for"

    def run_search(kind: str, values: list[str]) -> list[dict]:
        with engine.connect() as conn:
            if kind == "text":
                return queries.search_text(conn, " ".join(values), limit=50)
            rows: dict[str, dict] = {}
            for value in values:
                for row in queries.search_identifier(conn, kind, value, limit=200):
                    rows.setdefault(row["ad_id"], row)
            return list(rows.values())

    async def search(request: Request) -> Response:
        kind = request.query_params.get("kind") or "auto"
        kind = kind if kind in SEARCH_KINDS else "auto"
        q = request.query_params.get("q") or ""
        results, searched, error, values = None, None, None, []
        if q.strip():
            searched, values, error = normalise_query(kind, q)
            if error is None:
                results = await run(run_search, searched, values)
            await run(audit, request, "search", f"{searched}:{' '.join(values) if values else q.strip()[:200]}")
        return render(request, "search.html", kind=kind, q=q, searched=searched, values=values, results=results,
                      error=error, photo=None)

    async def search_photo(request: Request) -> Response:
        form = await checked_form(request)
        upload = form.get("photo")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "choose a photo file to upload")
        data = await upload.read(MAX_UPLOAD + 1)
        digest = hashlib.sha256(data).hexdigest()[:16]
        photo: dict = {"name": (upload.filename or "upload")[:100], "digest": digest}
        try:
            image = decode_image(data)
            variants = query_variants(image)
            # past ads' photos are stored as posted: the upload's flips and rotations find a
            # mirrored or rotated re-post (the banks hold those variants themselves)
            ad_queries = [*dihedral_hashes(image), variants[1]]
        except ImageFetchError as exc:
            photo["error"] = f"{exc.code}: {exc.detail}"
            await run(audit, request, "search_photo", f"sha256:{digest} refused ({exc.code})")
            return render(request, "search.html", status=400, kind="auto", q="", searched=None, values=[],
                          results=None, error=None, photo=photo)

        def match():
            banks = ctx.load_banks()
            with engine.connect() as conn:
                return banks.match(*variants), queries.similar_photos(conn, ad_queries)

        photo["hashes"] = {k: variants[0][k] for k in ("pdq", "pdq_quality", "phash", "dhash")}
        photo["bank_matches"], photo["ad_matches"] = await run(match)
        await run(audit, request, "search_photo", f"sha256:{digest} ({len(photo['bank_matches'])} bank, "
                                                  f"{len(photo['ad_matches'])} ad matches)")
        return render(request, "search.html", kind="auto", q="", searched=None, values=[], results=None,
                      error=None, photo=photo)

    # ------------------------------------------------------------ admin

    async def admin_users(request: Request) -> Response:
        require_admin(request)
        users = await run(auth.list_users, engine)
        await run(audit, request, "view_users", "users")
        return render(request, "users.html", users=users, roles=auth.ROLES, message=request.query_params.get("done"),
                      error=None)

    async def admin_add_user(request: Request) -> Response:
        require_admin(request)
        form = await checked_form(request)
        name, role = str(form.get("name") or "").strip().lower(), str(form.get("role") or "")
        try:
            await run(auth.add_user, engine, name, role, str(form.get("password") or ""))
        except auth.UserError as exc:
            users = await run(auth.list_users, engine)
            return render(request, "users.html", status=400, users=users, roles=auth.ROLES, message=None,
                          error=str(exc))
        await run(audit, request, "user_add", f"{name} ({role})")
        return RedirectResponse("/admin/users?done=added", 303)

    async def admin_disable_user(request: Request) -> Response:
        require_admin(request)
        form = await checked_form(request)
        name, disabled = request.path_params["name"], form.get("disabled") != "false"
        if not await run(auth.set_disabled, engine, name, disabled):
            raise HTTPException(404, "no such user")
        await run(audit, request, "user_disable" if disabled else "user_enable", name)
        return RedirectResponse("/admin/users?done=changed", 303)

    async def admin_audit(request: Request) -> Response:
        require_admin(request)
        user = request.query_params.get("user") or None
        action = request.query_params.get("action") or None

        def load():
            with engine.connect() as conn:
                return queries.audit_entries(conn, limit=500, user=user, action=action)

        entries = await run(load)
        await run(audit, request, "view_audit", json.dumps({"user": user, "action": action}))
        return render(request, "audit.html", entries=entries, user_filter=user or "", action_filter=action or "")

    # ------------------------------------------------------------ JSON API

    async def api_alerts(request: Request) -> Response:
        filters = inbox_filters(request)
        rows, _ = await run(load_inbox, filters)
        await run(audit, request, "api_alerts", "all")
        return JSONResponse({"alerts": rows})

    async def api_ad(request: Request) -> Response:
        ad_id = request.path_params["ad_id"]

        def load():
            with engine.connect() as conn:
                return queries.ad(conn, ad_id)

        ad = await run(load)
        if ad is None:
            return JSONResponse({"error": "no such ad"}, 404)
        await run(audit, request, "api_ad", ad_id)
        return JSONResponse(ad)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", inbox, methods=["GET"]),
        Route("/alerts/{alert_id}", alert_page, methods=["GET"]),
        Route("/alerts/{alert_id}/status", alert_status, methods=["POST"]),
        Route("/alerts/{alert_id}/feedback", alert_feedback, methods=["POST"]),
        Route("/ads/{ad_id}", ad_page, methods=["GET"]),
        Route("/clusters/{cluster_id}", cluster_page, methods=["GET"]),
        Route("/clusters/{cluster_id}/export.{fmt}", cluster_export, methods=["GET"]),
        Route("/search", search, methods=["GET"]),
        Route("/search/photo", search_photo, methods=["POST"]),
        Route("/admin/users", admin_users, methods=["GET"]),
        Route("/admin/users", admin_add_user, methods=["POST"]),
        Route("/admin/users/{name}/disable", admin_disable_user, methods=["POST"]),
        Route("/admin/audit", admin_audit, methods=["GET"]),
        Route("/api/alerts", api_alerts, methods=["GET"]),
        Route("/api/ads/{ad_id}", api_ad, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, exc.status_code)
        return render(request, "error.html", status=exc.status_code, status_code=exc.status_code, detail=exc.detail)

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.ctx = ctx
    return SessionGate(app, engine)


class SessionGate:
    """ASGI middleware: loads the session from its cookie, turns away requests without one
    (401 for the API, a redirect to /login for pages), adds security headers, and times every
    request by its route template."""

    def __init__(self, app: Starlette, engine: Engine) -> None:
        self.app, self.engine = app, engine
        self.routes = app.routes

    def __getattr__(self, name: str):  # the wrapped app's attributes (routes, state) stay reachable
        return getattr(self.app, name)

    def route_templates(self) -> list[tuple[str, str]]:
        """(template, method) of every route, as the latency metric labels them."""
        return [(route.path, method) for route in self.routes if isinstance(route, Route)
                for method in sorted(route.methods - {"HEAD"})]

    def template(self, scope) -> str:
        """The route template a request matches ("/alerts/{alert_id}"), never its path or query."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path + ("/{path}" if isinstance(route, Mount) else "")
        return "unmatched"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_seen = {"status": 500}

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                status_seen["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        try:
            request = Request(scope)
            session = await run_in_threadpool(auth.session_for, self.engine, request.cookies.get(SESSION_COOKIE))
            scope.setdefault("state", {})["session"] = session
            path = scope["path"]
            length = request.headers.get("content-length") or "0"
            if not length.isdigit() or int(length) > MAX_BODY:
                await PlainTextResponse(f"request body over {MAX_BODY} bytes", 413)(scope, receive, send_with_headers)
                return
            if session is None and not (path in PUBLIC or path.startswith(PUBLIC)):
                if path.startswith("/api/"):
                    response: Response = JSONResponse({"error": "log in first"}, 401)
                elif scope["method"] == "GET":
                    response = RedirectResponse("/login?" + urllib.parse.urlencode({"next": path}), 303)
                else:
                    response = PlainTextResponse("log in first", 401)
                await response(scope, receive, send_with_headers)
                return
            await self.app(scope, receive, send_with_headers)
        finally:
            status_class = f"{status_seen['status'] // 100}xx"
            metrics.REQUEST_SECONDS.labels(self.template(scope), scope["method"], status_class).observe(
                time.perf_counter() - started)
