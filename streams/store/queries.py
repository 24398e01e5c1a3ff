"""Reads from the store for the console: the inbox, an alert, an ad, a cluster, searches.

Lists are newest first and bounded (`limit`); text search takes words, not query syntax, and
finds ads holding every word (FTS5 on SQLite, a GIN-indexed tsvector on PostgreSQL).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, desc, func, or_, select, text

from detectors.images.banks import THRESHOLDS
from detectors.linking.template_form import MAX_ADS, TemplateForm, forms_by_template
from streams.store import schema
from streams.store.rows import dhash_bands

STATUSES = ("new", "triaged", "escalated", "dismissed")
WORD = re.compile(r"\w+", re.UNICODE)
AD_LIST_COLUMNS = [schema.ads.c[c] for c in ("ad_id", "title", "city", "region", "posted_ts", "severity", "risk",
                                              "cluster_id", "cluster_size", "alert")]


def _loads(value: str | None, default):
    try:
        return json.loads(value) if value else default
    except ValueError:
        return default


def _mappings(result) -> list[dict]:
    return [dict(row) for row in result.mappings()]


# ---------------------------------------------------------------- alerts


def inbox(conn: Connection, *, severity: str | None = None, status: str | None = None, city: str | None = None,
          since: float | None = None, until: float | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
    """Alerts newest first, with their ad's title, filtered by severity, status, city and time."""
    a = schema.alerts.c
    query = (select(a.alert_id, a.ad_id, a.cluster_id, a.cluster_size, a.severity, a.risk, a.city, a.created_at,
                    a.posted_ts, a.status, a.status_by, a.status_at, schema.ads.c.title)
             .select_from(schema.alerts.outerjoin(schema.ads, schema.ads.c.ad_id == a.ad_id))
             .order_by(desc(a.created_at), desc(a.id)).limit(limit).offset(offset))
    if severity:
        query = query.where(a.severity == severity)
    if status:
        query = query.where(a.status == status)
    if city:
        query = query.where(func.lower(a.city) == city.lower())
    if since is not None:
        query = query.where(a.created_at >= since)
    if until is not None:
        query = query.where(a.created_at < until)
    return _mappings(conn.execute(query))


def inbox_cities(conn: Connection) -> list[str]:
    return [c for c in conn.scalars(select(schema.alerts.c.city).distinct().order_by(schema.alerts.c.city)) if c]


def alert(conn: Connection, alert_id: str) -> dict | None:
    """An alert with its record and the events analysts added (status changes, feedback)."""
    row = conn.execute(select(schema.alerts).where(schema.alerts.c.alert_id == alert_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["record"] = _loads(out["record"], {})
    e = schema.alert_events.c
    out["events"] = _mappings(conn.execute(select(schema.alert_events).where(e.alert_id == alert_id)
                                           .order_by(e.at, e.id)))
    out["feedback"] = [ev for ev in out["events"] if ev["kind"] == "feedback"]
    return out


def alerts_of_ad(conn: Connection, ad_id: str) -> list[dict]:
    a = schema.alerts.c
    return _mappings(conn.execute(select(a.alert_id, a.severity, a.status, a.created_at)
                                  .where(a.ad_id == ad_id).order_by(desc(a.created_at))))


# ---------------------------------------------------------------- ads


def ad(conn: Connection, ad_id: str) -> dict | None:
    """An ad with its scored record parsed (title and body from their columns)."""
    row = conn.execute(select(schema.ads).where(schema.ads.c.ad_id == ad_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["record"] = _loads(out["record"], {})
    return out


def ads_by_ids(conn: Connection, ad_ids: list[str]) -> list[dict]:
    out = []
    for i in range(0, len(ad_ids), 500):
        chunk = ad_ids[i:i + 500]
        out += _mappings(conn.execute(select(*AD_LIST_COLUMNS, schema.ads.c.template_id)
                                      .where(schema.ads.c.ad_id.in_(chunk))))
    return sorted(out, key=lambda r: (r["posted_ts"] or 0, r["ad_id"]))


# ---------------------------------------------------------------- clusters


@dataclass
class ClusterView:
    cluster_id: str
    summary: dict | None
    ads: list[dict]
    identifiers: dict[str, list[tuple[str, int]]]
    templates: list[tuple[str, int]]
    photos: list[dict]
    timeline: list[dict]  # {ad_id, city, posted_ts}, oldest first
    first_ts: float | None
    last_ts: float | None
    merged_into: str | None = None
    absorbed: list[str] = field(default_factory=list)
    # the shared templates in readable form: fixed words and the slots where the ads differ
    template_forms: list[tuple[str, TemplateForm]] = field(default_factory=list)


def cluster_members(conn: Connection, cluster_id: str, depth: int = 3) -> tuple[set[str], list[str]]:
    """Ads of a cluster: those scored in it, those its summaries named, and those of smaller
    clusters it has since absorbed (their ads turn up in its summaries); returns (ad ids,
    absorbed cluster ids)."""
    ads, ca = schema.ads.c, schema.cluster_ads.c
    ids = {cluster_id}
    absorbed: list[str] = []
    members: set[str] = set()
    size = conn.scalar(select(schema.clusters.c.size).where(schema.clusters.c.cluster_id == cluster_id)) or 0
    for _ in range(depth):
        found = set(conn.scalars(select(ads.ad_id).where(ads.cluster_id.in_(ids))))
        found |= set(conn.scalars(select(ca.ad_id).where(ca.cluster_id.in_(ids))))
        members |= found
        others = set()
        for i in range(0, len(found), 500):
            chunk = list(found)[i:i + 500]
            others |= set(conn.scalars(select(ads.cluster_id).where(ads.ad_id.in_(chunk)).distinct()))
        others = {o for o in others if o and o not in ids}
        smaller = {c for c, s in conn.execute(select(schema.clusters.c.cluster_id, schema.clusters.c.size)
                                              .where(schema.clusters.c.cluster_id.in_(others))) if s <= size}
        if not smaller:
            break
        absorbed += sorted(smaller)
        ids |= smaller
    return members, absorbed


def merged_into(conn: Connection, cluster_id: str, members: set[str]) -> str | None:
    """A larger cluster whose summaries name this cluster's ads: the cluster it is now part of."""
    if not members:
        return None
    ca, cl = schema.cluster_ads.c, schema.clusters.c
    size = conn.scalar(select(cl.size).where(cl.cluster_id == cluster_id)) or 0
    sample = sorted(members)[:500]
    row = conn.execute(select(cl.cluster_id).select_from(schema.cluster_ads.join(
        schema.clusters, cl.cluster_id == ca.cluster_id))
        .where(ca.ad_id.in_(sample), ca.cluster_id != cluster_id, cl.size > size)
        .order_by(desc(cl.size)).limit(1)).first()
    return row[0] if row else None


def cluster(conn: Connection, cluster_id: str) -> ClusterView | None:
    """Everything the cluster page shows, or None for a cluster the store has never seen."""
    summary = conn.execute(select(schema.clusters).where(schema.clusters.c.cluster_id == cluster_id)).mappings().first()
    members, absorbed = cluster_members(conn, cluster_id)
    if summary is None and not members:
        return None
    ads = ads_by_ids(conn, sorted(members))
    present = [a["ad_id"] for a in ads]
    idents: dict[str, Counter] = {"phone": Counter(), "email": Counter(), "handle": Counter(), "url": Counter()}
    photos: list[dict] = []
    i = schema.identifiers.c
    for k in range(0, len(present), 500):
        chunk = present[k:k + 500]
        for kind, value in conn.execute(select(i.kind, i.value).where(i.ad_id.in_(chunk))):
            idents.setdefault(kind, Counter())[value] += 1
        photos += _mappings(conn.execute(select(schema.images).where(schema.images.c.ad_id.in_(chunk))
                                         .order_by(schema.images.c.ad_id, schema.images.c.image_index)))
    templates = Counter(a["template_id"] for a in ads if a["template_id"])
    timeline = [{"ad_id": a["ad_id"], "city": a["city"], "posted_ts": a["posted_ts"]} for a in ads if a["posted_ts"]]
    times = [t["posted_ts"] for t in timeline]
    view = ClusterView(
        cluster_id=cluster_id,
        summary={**summary, "phones": _loads(summary["phones"], []), "cities": _loads(summary["cities"], [])}
        if summary else None,
        ads=ads,
        identifiers={kind: counter.most_common() for kind, counter in idents.items()},
        templates=templates.most_common(),
        photos=photos,
        timeline=timeline,
        first_ts=min(times) if times else (summary["first_ts"] if summary else None),
        last_ts=max(times) if times else (summary["last_ts"] if summary else None),
        absorbed=absorbed,
    )
    view.merged_into = merged_into(conn, cluster_id, members)
    view.template_forms = template_forms(conn, [t for t, n in view.templates if n >= 2][:5], present)
    return view


def template_forms(conn: Connection, template_ids: list[str], ad_ids: list[str]) -> list[tuple[str, TemplateForm]]:
    """The readable form of each template among `ad_ids`, from the bodies of its newest ads."""
    if not template_ids or not ad_ids:
        return []
    a = schema.ads.c
    dated = []
    for k in range(0, len(ad_ids), 500):
        dated += conn.execute(select(a.ad_id, a.template_id, a.posted_ts)
                              .where(a.ad_id.in_(ad_ids[k:k + 500]), a.template_id.in_(template_ids))).all()
    dated.sort(key=lambda r: (-(r.posted_ts or 0), r.ad_id))
    newest: dict[str, list[str]] = {}
    for row in dated:
        if len(newest.setdefault(row.template_id, [])) < MAX_ADS:
            newest[row.template_id].append(row.ad_id)
    wanted = [ad_id for ids in newest.values() for ad_id in ids]
    bodies = dict(conn.execute(select(a.ad_id, a.body).where(a.ad_id.in_(wanted))).all())
    return forms_by_template([(t, bodies.get(ad_id) or "") for t, ids in newest.items() for ad_id in ids])


# ---------------------------------------------------------------- search


def search_identifier(conn: Connection, kind: str, value: str, limit: int = 100) -> list[dict]:
    """Ads carrying an identifier (phone in E.164, e-mail, handle `platform:name`), newest posted first."""
    i = schema.identifiers.c
    query = (select(*AD_LIST_COLUMNS)
             .select_from(schema.identifiers.join(schema.ads, schema.ads.c.ad_id == i.ad_id))
             .where(i.kind == kind, i.value == value)
             .order_by(desc(schema.ads.c.posted_ts), desc(schema.ads.c.id)).limit(limit))
    return _mappings(conn.execute(query))


def text_words(query: str) -> list[str]:
    return WORD.findall(query)[:12]


def search_text(conn: Connection, query: str, limit: int = 50) -> list[dict]:
    """Ads whose title or body hold every word of `query`: the `limit` most recently stored,
    newest posted first."""
    words = text_words(query)
    if not words:
        return []
    if conn.dialect.name == "sqlite":
        match = " ".join('"' + w.replace('"', "") + '"' for w in words)
        ids = conn.execute(text("SELECT rowid FROM ads_fts WHERE ads_fts MATCH :q ORDER BY rowid DESC LIMIT :n"),
                           {"q": match, "n": limit}).scalars().all()
        if not ids:
            return []
        rows = _mappings(conn.execute(select(*AD_LIST_COLUMNS, schema.ads.c.id).where(schema.ads.c.id.in_(ids))))
        return sorted(rows, key=lambda r: (-(r["posted_ts"] or 0), -r["id"]))
    return sorted(_postgres_text_search(conn, " ".join(words), limit),
                  key=lambda r: (-(r["posted_ts"] or 0), -r["id"]))


# (newest ids searched, how): first the newest 2,000 rows tested one by one (a common word has
# its matches there), then the GIN index's matches among the newest 20,000, 200,000, all
ID_WINDOWS = ((2_000, "walk"), (20_000, "index"), (200_000, "index"), (None, "index"))
PLAN = {"walk": ("enable_bitmapscan", "enable_seqscan"), "index": ("enable_indexscan", "enable_seqscan")}


def _postgres_text_search(conn: Connection, words: str, limit: int) -> list[dict]:
    """The `limit` newest matches at a bounded cost. Left to itself the planner either walks the
    id index down testing every row (55 ms at 163k ads for two words in 0.1 % of them, growing
    with the table) or fetches every match of a common word to sort them (140 ms): here each
    step's cost is bounded by its window, and the first step that fills `limit` ends the search."""
    matches = text("search @@ plainto_tsquery('simple', :q)").bindparams(q=words)
    newest = conn.scalar(select(func.max(schema.ads.c.id))) or 0
    rows: list[dict] = []
    for window, how in ID_WINDOWS:
        for name in PLAN[how]:
            conn.exec_driver_sql(f"SET LOCAL {name} = off")
        try:
            query = select(*AD_LIST_COLUMNS, schema.ads.c.id).where(matches)
            if window is not None:
                query = query.where(schema.ads.c.id > newest - window)
            rows = _mappings(conn.execute(query.order_by(desc(schema.ads.c.id)).limit(limit)))
        finally:
            for name in PLAN[how]:
                conn.exec_driver_sql(f"SET LOCAL {name} = on")
        if len(rows) >= limit or window is None or window >= newest:
            break
    return rows


def _distance(a: str | None, b: str | None) -> int | None:
    if not a or not b or len(a) != len(b):
        return None
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None


def similar_photos(conn: Connection, queries: list[dict], limit: int = 50) -> list[dict]:
    """Past ads' photos near any of the query hashes: candidates share a dHash band, then PDQ
    (<= 31) or dHash (<= 4) decide, as for the banks; closest first, one row per photo."""
    im = schema.images.c
    found: dict[tuple[str, int], dict] = {}
    for q in queries:
        bands = dhash_bands(q.get("dhash"))
        conditions = [im[f"band{n}"] == b for n, b in enumerate(bands) if b is not None]
        if not conditions:
            continue
        for row in _mappings(conn.execute(select(schema.images).where(or_(*conditions)).limit(5000))):
            pdq = _distance(q.get("pdq"), row["pdq"])
            dh = _distance(q.get("dhash"), row["dhash"])
            hits = []
            if pdq is not None and pdq <= THRESHOLDS["pdq"] and (row["pdq_quality"] or 0) >= 50:
                hits.append(("pdq", pdq, pdq))
            if dh is not None and dh <= THRESHOLDS["dhash"]:
                hits.append(("dhash", dh, dh * 4))
            if not hits:
                continue
            kind, distance, scaled = min(hits, key=lambda h: h[2])
            key = (row["ad_id"], row["image_index"])
            if key not in found or scaled < found[key]["scaled"]:
                found[key] = {"ad_id": row["ad_id"], "image_index": row["image_index"], "ref": row["ref"],
                              "hash_type": kind, "distance": distance, "scaled": scaled}
    rows = sorted(found.values(), key=lambda r: (r["scaled"], r["ad_id"]))[:limit]
    titles = {a["ad_id"]: a for a in ads_by_ids(conn, sorted({r["ad_id"] for r in rows}))}
    return [{**r, "ad": titles.get(r["ad_id"])} for r in rows]


# ---------------------------------------------------------------- audit


def audit_entries(conn: Connection, *, limit: int = 200, user: str | None = None,
                  action: str | None = None) -> list[dict]:
    a = schema.audit_log.c
    query = select(schema.audit_log).order_by(desc(a.at), desc(a.id)).limit(limit)
    if user:
        query = query.where(a.user_name == user)
    if action:
        query = query.where(a.action == action)
    return _mappings(conn.execute(query))


def store_counts(conn: Connection) -> dict[str, int]:
    return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in (schema.ads, schema.alerts)}


def newest_alert_id(conn: Connection) -> str | None:
    return conn.scalar(select(schema.alerts.c.alert_id).order_by(desc(schema.alerts.c.created_at)).limit(1))

