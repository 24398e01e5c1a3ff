"""The console's access rules, on a real store (SQLite and PostgreSQL) with real scored ads: no
page or API answers without a session, a POST without the session's CSRF token is refused, an
analyst cannot reach admin pages, logins are throttled, cookies are HttpOnly/SameSite (Secure off
loopback), and every search, view and export is in the audit log."""

from __future__ import annotations

import base64
import io
import re
import time

import pytest
from sqlalchemy import select
from starlette.routing import Mount
from starlette.testclient import TestClient

from detectors.images.banks import BankSet
from streams.bench.store import scored_records
from streams.console import auth
from streams.console.app import ConsoleContext, create_app
from streams.model.feedback import feedback_record
from streams.store import schema
from streams.store.db import open_store_engine
from streams.store.rows import alert_row, scored_ad_rows
from streams.store.writer import StoreWriter

PASSWORD = "correct horse battery staple"
PUBLIC = {"/login", "/healthz"}


@pytest.fixture(scope="module")
def records():
    return scored_records(120, seed=23, images=True)


@pytest.fixture
def console(store_url, records):
    engine = open_store_engine(store_url)
    scored, alerts = records
    StoreWriter(engine).write([scored_ad_rows(r, stored_at=time.time()) for r in scored],
                              [alert_row(a) for a in alerts])
    auth.add_user(engine, "ana", "analyst", PASSWORD)
    auth.add_user(engine, "root", "admin", PASSWORD)
    sent: list[dict] = []
    app = create_app(ConsoleContext(engine=engine, send_feedback=sent.append, load_banks=lambda: BankSet([]),
                                    feedback_record=feedback_record))
    app.sent, app.engine, app.records = sent, engine, records
    return app


def client(app, secure: bool = False) -> TestClient:
    return TestClient(app, base_url="https://127.0.0.1" if secure else "http://127.0.0.1")


def login(app, name: str, password: str = PASSWORD, c: TestClient | None = None):
    c = c or client(app)
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = c.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/"},
                      follow_redirects=False)
    return c, response


def csrf_of(c: TestClient) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)


def concrete_routes(app, records) -> list[tuple[str, str]]:
    """(method, path) of every route, with real ids filled in."""
    scored, alerts = records
    values = {"alert_id": alerts[0]["alert_id"], "ad_id": scored[0]["ad_id"], "name": "ana", "fmt": "csv",
              "cluster_id": scored[0]["cluster"]["cluster_id"]}
    out = []
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], route.path)
        out += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return out


def test_no_page_or_api_answers_without_a_session(console):
    c = client(console)
    title = console.records[0][0]["title"]
    checked = 0
    for method, path in concrete_routes(console, console.records):
        if path in PUBLIC:
            continue
        response = c.request(method, path, follow_redirects=False)
        assert response.status_code in (303, 401), (method, path, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login?next="), (method, path)
        if path.startswith("/api/"):
            assert response.status_code == 401
        assert title not in response.text
        checked += 1
    assert checked >= 15
    # a forged or expired cookie is no session either
    c.cookies.set("vigil_session", "forged-token")
    assert c.get("/api/alerts").status_code == 401


def test_every_post_without_the_sessions_csrf_token_is_refused(console):
    c, response = login(console, "root")
    assert response.status_code == 303
    posts = [(m, p) for m, p in concrete_routes(console, console.records) if m == "POST" and p != "/login"]
    assert len(posts) >= 6
    for _, path in posts:
        for data in ({}, {"csrf_token": "not-the-token"}):
            response = c.post(path, data={**data, "status": "triaged", "label": "true", "name": "x",
                                          "role": "analyst", "password": "p" * 20}, follow_redirects=False)
            assert response.status_code == 403, (path, data, response.status_code)
    assert console.sent == [], "no feedback may leave without a CSRF token"
    alert_id = console.records[1][0]["alert_id"]
    with console.engine.connect() as conn:
        assert conn.scalar(select(schema.alerts.c.status).where(schema.alerts.c.alert_id == alert_id)) == "new"
    # the login form has its own double-submit token
    fresh = client(console)
    assert fresh.post("/login", data={"name": "ana", "password": PASSWORD}, follow_redirects=False).status_code == 403
    # and with the right token the same POST works
    response = c.post(f"/alerts/{alert_id}/status", data={"status": "triaged", "csrf_token": csrf_of(c)},
                      follow_redirects=False)
    assert response.status_code == 303


def test_an_analyst_cannot_reach_admin_pages(console):
    c, _ = login(console, "ana")
    token = csrf_of(c)
    assert c.get("/admin/users").status_code == 403
    assert c.get("/admin/audit").status_code == 403
    response = c.post("/admin/users", data={"name": "eve", "role": "admin", "password": "x" * 20, "csrf_token": token})
    assert response.status_code == 403
    assert c.post("/admin/users/root/disable", data={"csrf_token": token}).status_code == 403
    assert "eve" not in [u["name"] for u in auth.list_users(console.engine)]
    assert 'href="/admin/users"' not in c.get("/").text
    admin, _ = login(console, "root")
    assert admin.get("/admin/users").status_code == 200


def test_searches_views_and_exports_are_in_the_audit_log(console):
    scored, alerts = console.records
    c, _ = login(console, "ana")
    phone = next(p for r in scored for p in r["entities"]["phones"])
    national = phone[2:]
    c.get("/search", params={"q": f"{national[:3]}.{national[3:6]}.{national[6:]}", "kind": "phone"})
    c.get("/search", params={"q": "available tonight", "kind": "text"})
    c.get(f"/alerts/{alerts[0]['alert_id']}")
    cluster_id = alerts[0]["cluster"]["cluster_id"]
    assert c.get(f"/clusters/{cluster_id}/export.csv").status_code == 200
    assert c.get(f"/clusters/{cluster_id}/export.json").status_code == 200
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "PNG")
    c.post("/search/photo", data={"csrf_token": csrf_of(c)},
           files={"photo": ("red.png", buffer.getvalue(), "image/png")})
    with console.engine.connect() as conn:
        rows = [(r.user_name, r.action, r.target) for r in conn.execute(
            select(schema.audit_log).order_by(schema.audit_log.c.id))]
    assert ("ana", "search", f"phone:{phone}") in rows
    assert ("ana", "search", "text:available tonight") in rows
    assert ("ana", "view_alert", alerts[0]["alert_id"]) in rows
    exports = [t for u, a, t in rows if u == "ana" and a == "export"]
    assert len(exports) == 2 and all(t.startswith(cluster_id) for t in exports)
    assert any(u == "ana" and a == "search_photo" and t.startswith("sha256:") for u, a, t in rows)
    assert ("ana", "login", "console") in rows
    # the admin sees them on the audit page
    admin, _ = login(console, "root")
    page = admin.get("/admin/audit", params={"action": "export"}).text
    assert page.count("<code>export</code>") == 2


def test_a_number_without_its_code_is_read_in_the_consoles_phone_region(console):
    from streams.console.command import phone_region
    from streams.errors import CliError

    british = create_app(ConsoleContext(engine=console.engine, send_feedback=list.append,
                                        load_banks=lambda: BankSet([]), region=phone_region("gb")))
    for app in (console, british):
        c, _ = login(app, "ana")
        c.get("/search", params={"q": "07700 900123", "kind": "auto"})
    with console.engine.connect() as conn:
        targets = [r.target for r in conn.execute(select(schema.audit_log).where(
            schema.audit_log.c.action == "search").order_by(schema.audit_log.c.id))]
    # read as US it is no phone (searched as words); read as GB it is +44 7700 900123
    assert targets[-2:] == ["text:07700 900123", "phone:+447700900123"]
    with pytest.raises(CliError, match="unknown phone region 'XX'"):
        phone_region("XX")


def test_logins_are_throttled_and_recorded(console):
    c = client(console)
    for _ in range(auth.MAX_FAILURES_PER_NAME):
        _, response = login(console, "ana", "wrong password!", c)
        assert response.status_code == 401
    _, response = login(console, "ana", PASSWORD, c)  # right password, but too late
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    assert "vigil_session" not in response.cookies
    _, other = login(console, "root")  # another user is not locked out
    assert other.status_code == 303
    with console.engine.connect() as conn:
        attempts = conn.execute(select(schema.login_attempts.c.ok).where(schema.login_attempts.c.name == "ana")).all()
    assert [a.ok for a in attempts] == [False] * auth.MAX_FAILURES_PER_NAME


def test_session_cookie_flags_passwords_and_headers(console, store_url):
    _, response = login(console, "ana")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("vigil_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # loopback, plain HTTP
    secure_app = create_app(ConsoleContext(engine=console.engine, send_feedback=list.append,
                                           load_banks=lambda: BankSet([]), feedback_record=feedback_record,
                                           secure_cookies=True))
    _, response = login(secure_app, "ana", c=client(secure_app, secure=True))
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("vigil_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    with console.engine.connect() as conn:
        hashes = list(conn.scalars(select(schema.users.c.password_hash)))
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    c, _ = login(console, "ana")
    page = c.get("/")
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    # a disabled user's session ends at once
    auth.set_disabled(console.engine, "ana", True)
    assert c.get("/api/alerts").status_code == 401


def test_login_never_redirects_off_site(console):
    c = client(console)
    page = c.get("/login", params={"next": "//evil.example/x"})
    assert 'value="/"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = c.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token,
                                      "next": "https://evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_feedback_and_status_are_recorded_with_who_and_when(console):
    scored, alerts = console.records
    c, _ = login(console, "ana")
    alert_id = alerts[0]["alert_id"]
    token = csrf_of(c)
    assert c.post(f"/alerts/{alert_id}/feedback", data={"label": "false", "note": "a bike shop", "csrf_token": token},
                  follow_redirects=False).status_code == 303
    (record,) = console.sent
    assert record["alert_id"] == alert_id and record["label"] is False and record["analyst"] == "ana"
    assert record["ad_id"] == alerts[0]["ad_id"] and record["note"] == "a bike shop"
    page = c.get(f"/alerts/{alert_id}").text
    assert "false positive" in page and "a bike shop" in page
    assert c.post(f"/alerts/{alert_id}/status", data={"status": "shredded", "csrf_token": token}).status_code == 400
    photo = base64.b64encode(b"<svg></svg>").decode()
    response = c.post("/search/photo", data={"csrf_token": token}, files={"photo": ("x.svg", photo, "image/svg+xml")})
    assert response.status_code == 400 and "not_an_image" in response.text


def test_odd_form_fields_and_huge_bodies_are_refused_cleanly(console):
    c, _ = login(console, "ana")
    alert_id = console.records[1][0]["alert_id"]
    response = c.post(f"/alerts/{alert_id}/status", data={"status": "triaged"},
                      files={"csrf_token": ("token.txt", b"x", "text/plain")})
    assert response.status_code == 403  # a file where the token should be is no token
    response = c.post("/search/photo", content=b"x" * 10, headers={"content-length": str(50 * 1024 * 1024),
                                                                   "content-type": "application/octet-stream"})
    assert response.status_code == 413
