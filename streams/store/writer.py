"""Writes to the store: batched, idempotent upserts of scored ads and alerts; retention; forgetting.

Every batch is one transaction. Ads are keyed by `ad_id`, alerts by `alert_id`: a record seen
again (at-least-once delivery) leaves the tables as they were, and an alert an analyst has
already worked keeps its status. A cluster keeps the summary of its largest record (clusters
only grow, so the largest is the latest).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, Text, bindparam, cast, delete, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from streams.store import schema
from streams.store.rows import AdRows

DAY_S = 86_400
CHUNK = 500  # ids per IN (...) list


@dataclass
class WriteCounts:
    """Rows inserted or changed per table in one call."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        if n and n > 0:
            self.rows[table] = self.rows.get(table, 0) + n


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _last_by(rows: Iterable[dict], *keys: str) -> list[dict]:
    """One row per key (the last one wins): a batch may hold a record twice."""
    return list({tuple(r[k] for k in keys): r for r in rows}.values())


def _rows_from_json(table: Table, rows: list[dict]) -> postgresql.Insert:
    """PostgreSQL: INSERT … SELECT from the batch as one JSON parameter. A multi-row VALUES
    statement with a placeholder per value took psycopg longer to parse on every batch (too long
    for its query cache) than PostgreSQL took to insert the rows."""
    columns = [c.name for c in table.columns if c.name in rows[0]]
    source = func.jsonb_populate_recordset(literal_column(f"NULL::{table.name}"),
                                           cast(bindparam("rows", json.dumps(rows), type_=Text),
                                                postgresql.JSONB)).alias("batch")
    picked = select(*(literal_column(f'batch."{name}"') for name in columns)).select_from(source)
    return postgresql.insert(table).from_select(columns, picked)


class StoreWriter:
    """Batched writes into the store's tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def _written(self, conn, table: Table, rows: list[dict], upsert, returning) -> int:
        """Upsert `rows` (`upsert` adds the ON CONFLICT clause to an insert) and count the rows
        inserted or changed (RETURNING gives nothing for a conflict left alone; rowcount of a
        many-row execute is not reliable across drivers)."""
        if self.dialect == "postgresql":
            return len(conn.execute(upsert(_rows_from_json(table, rows)).returning(returning)).all())
        return len(conn.execute(upsert(sqlite.insert(table)).returning(returning), rows).all())

    def write(self, ads: list[AdRows], alerts: list[dict]) -> WriteCounts:
        """Upsert a batch of scored ads (as rows) and alert rows in one transaction."""
        counts = WriteCounts()
        with self.engine.begin() as conn:
            ad_rows = _last_by((a.ad for a in ads), "ad_id")
            if ad_rows:
                def upsert_ads(stmt):
                    changed = {c.name: stmt.excluded[c.name] for c in schema.ads.columns
                               if c.name not in ("id", "ad_id") and c.name in ad_rows[0]}
                    return stmt.on_conflict_do_update(index_elements=["ad_id"], set_=changed,
                                                      where=schema.ads.c.record != stmt.excluded.record)
                counts.add("ads", self._written(conn, schema.ads, ad_rows, upsert_ads, schema.ads.c.ad_id))
            for table, rows, keys in (
                (schema.identifiers, [r for a in ads for r in a.identifiers], ("kind", "value", "ad_id")),
                (schema.images, [r for a in ads for r in a.images], ("ad_id", "image_index")),
                (schema.cluster_ads, [r for a in ads for r in a.cluster_ads], ("cluster_id", "ad_id")),
            ):
                if rows:
                    counts.add(table.name, self._written(
                        conn, table, _last_by(rows, *keys),
                        lambda stmt, keys=keys: stmt.on_conflict_do_nothing(index_elements=list(keys)),
                        table.c[keys[0]]))
            # cluster summaries grow only; a hub's regroup (carried by the ad that made the hub)
            # shrinks its cluster, so summaries from before it in the batch go first
            segment: list[dict] = []
            for a in ads:
                if a.regrouped:
                    self._upsert_clusters(conn, segment, counts)
                    segment = []
                    for moved in a.regrouped:
                        counts.add("ads_regrouped", self._regroup(conn, moved, a.ad["stored_at"]))
                if a.cluster:
                    segment.append(a.cluster)
            self._upsert_clusters(conn, segment, counts)
            if alerts:
                counts.add("alerts", self._written(
                    conn, schema.alerts, _last_by(alerts, "alert_id"),
                    lambda stmt: stmt.on_conflict_do_nothing(index_elements=["alert_id"]),
                    schema.alerts.c.alert_id))
        return counts

    def _upsert_clusters(self, conn, cluster_rows: list[dict], counts: WriteCounts) -> None:
        if not cluster_rows:
            return
        biggest: dict[str, dict] = {}
        for row in cluster_rows:
            if row["size"] >= biggest.get(row["cluster_id"], {"size": -1})["size"]:
                biggest[row["cluster_id"]] = row

        def upsert_clusters(stmt):
            changed = {c: stmt.excluded[c] for c in ("size", "phones", "cities", "first_ts", "last_ts",
                                                      "updated_at")}
            return stmt.on_conflict_do_update(index_elements=["cluster_id"], set_=changed,
                                              where=stmt.excluded.size > schema.clusters.c.size)
        counts.add("clusters", self._written(conn, schema.clusters, list(biggest.values()),
                                             upsert_clusters, schema.clusters.c.cluster_id))

    def _regroup(self, conn, moved: dict, now: float) -> int:
        """Move the ads a hub's regroup put in cluster `moved["cluster_id"]` there, take them out
        of every other cluster's sample (the old one, and the roots it had while it chained),
        and write the cluster's summary as the regroup left it; returns the ads moved."""
        new = moved["cluster_id"]
        ads, cluster_ads = schema.ads.c, schema.cluster_ads.c
        n = 0
        for chunk in _chunks(moved["ad_ids"]):
            n += conn.execute(update(schema.ads).where(ads.ad_id.in_(chunk), ads.cluster_id != new)
                              .values(cluster_id=new, cluster_size=moved["size"])).rowcount
            conn.execute(delete(schema.cluster_ads).where(cluster_ads.ad_id.in_(chunk), cluster_ads.cluster_id != new))
        summary = {"cluster_id": new, "size": moved["size"], "phones": moved["phones"], "cities": moved["cities"],
                   "first_ts": moved["first_ts"], "last_ts": moved["last_ts"], "updated_at": now}
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(schema.clusters)
        conn.execute(insert.values(**summary).on_conflict_do_update(
            index_elements=["cluster_id"], set_={k: v for k, v in summary.items() if k != "cluster_id"}))
        return n

    # ---------------------------------------------------------------- removal

    def _delete_ads(self, conn, ad_ids: list[str]) -> dict[str, int]:
        counts = WriteCounts()
        for chunk in _chunks(ad_ids):
            alert_ids = list(conn.scalars(select(schema.alerts.c.alert_id).where(schema.alerts.c.ad_id.in_(chunk))))
            for alert_chunk in _chunks(alert_ids):
                counts.add("alert_events", conn.execute(
                    delete(schema.alert_events).where(schema.alert_events.c.alert_id.in_(alert_chunk))).rowcount)
            for table in (schema.alerts, schema.identifiers, schema.images, schema.cluster_ads, schema.ads):
                counts.add(table.name, conn.execute(delete(table).where(table.c.ad_id.in_(chunk))).rowcount)
        return counts.rows

    def forget_ad(self, ad_id: str) -> dict[str, int]:
        """Delete one ad with its identifiers, photos, cluster membership and alerts; rows per table."""
        with self.engine.begin() as conn:
            return self._delete_ads(conn, [ad_id])

    def forget_phone(self, e164: str) -> dict[str, int]:
        """Delete every ad that carries the phone (with its rows, as `forget_ad`), and blank the
        number wherever else it is written (cluster summaries and reasons of other ads, alerts);
        rows per table."""
        with self.engine.begin() as conn:
            ad_ids = list(conn.scalars(select(schema.identifiers.c.ad_id).where(
                schema.identifiers.c.kind == "phone", schema.identifiers.c.value == e164)))
            counts = WriteCounts(self._delete_ads(conn, ad_ids))
            counts.add("identifiers", conn.execute(delete(schema.identifiers).where(
                schema.identifiers.c.kind == "phone", schema.identifiers.c.value == e164)).rowcount)
            pattern = f"%{e164}%"
            for table, column in ((schema.ads, "record"), (schema.alerts, "record"), (schema.clusters, "phones")):
                col = table.c[column]
                scrubbed = conn.execute(update(table).where(col.like(pattern))
                                        .values({column: func.replace(col, e164, "[forgotten]")})).rowcount
                counts.add(f"{table.name}_scrubbed", scrubbed)
            return counts.rows

    def purge_older_than(self, days: float, now: float | None = None) -> dict[str, int]:
        """Delete ads posted (or, without a posting time, stored) more than `days` days ago, with
        their rows and alerts; clusters none of whose ads remain. `days` <= 0 purges nothing."""
        if days <= 0:
            return {}
        cutoff = (now if now is not None else time.time()) - days * DAY_S
        with self.engine.begin() as conn:
            ads = schema.ads.c
            old = or_(ads.posted_ts < cutoff, (ads.posted_ts.is_(None)) & (ads.stored_at < cutoff))
            ad_ids = list(conn.scalars(select(ads.ad_id).where(old)))
            counts = WriteCounts(self._delete_ads(conn, ad_ids))
            clusters = schema.clusters.c
            counts.add("clusters", conn.execute(delete(schema.clusters).where(
                clusters.last_ts < cutoff,
                ~select(schema.ads.c.id).where(ads.cluster_id == clusters.cluster_id).exists(),
            )).rowcount)
            return counts.rows
