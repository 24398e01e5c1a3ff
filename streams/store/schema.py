"""The store's tables (SQLAlchemy Core). Alembic migrations under `migrations/` create them;
`tests/unit/test_store_rows.py` checks that a migrated database matches these definitions.

Times are Unix seconds (floats): they sort and compare the same on SQLite and PostgreSQL.
Text search is database-specific and lives in the migration: an FTS5 table `ads_fts` kept by
triggers on SQLite, a generated `tsvector` column with a GIN index on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ID = 200  # longest id kept (ad ids, alert ids, cluster ids)

ads = Table(
    "ads", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # FTS rowid, insertion order
    Column("ad_id", String(ID), nullable=False, unique=True),
    Column("source", String(100)),
    Column("url", Text),
    Column("posted_ts", Float),
    Column("city", String(100)),
    Column("region", String(100)),
    Column("country", String(10)),
    Column("title", Text, nullable=False, default=""),
    Column("body", Text, nullable=False, default=""),
    Column("risk", Float, nullable=False),
    Column("severity", String(10), nullable=False),
    Column("severity_rank", Integer, nullable=False),
    Column("alert", Boolean, nullable=False, default=False),
    Column("cluster_id", String(ID)),
    Column("cluster_size", Integer),
    Column("template_id", String(ID)),
    Column("scored_at", Float),
    Column("stored_at", Float, nullable=False),
    Column("record", Text, nullable=False),  # the scored record (JSON) without title and body
    Index("ix_ads_cluster", "cluster_id"),
    Index("ix_ads_posted", "posted_ts"),
)

# one row per contact an ad carries: the phone, e-mail, handle and URL search
identifiers = Table(
    "identifiers", metadata,
    Column("kind", String(10), primary_key=True),  # phone, email, handle, url
    Column("value", String(300), primary_key=True),
    Column("ad_id", String(ID), primary_key=True),
    Index("ix_identifiers_ad", "ad_id"),
)

# the photo hashes of every ad; dHash is cut into five bands so a near-duplicate (distance <= 4)
# shares at least one band exactly (pigeonhole) and is found through an index
images = Table(
    "images", metadata,
    Column("ad_id", String(ID), primary_key=True),
    Column("image_index", Integer, primary_key=True),
    Column("ref", Text),
    Column("pdq", String(64)),
    Column("pdq_quality", Integer),
    Column("phash", String(16)),
    Column("dhash", String(16)),
    *(Column(f"band{i}", Integer) for i in range(5)),
    *(Index(f"ix_images_band{i}", f"band{i}") for i in range(5)),
)

clusters = Table(
    "clusters", metadata,
    Column("cluster_id", String(ID), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("phones", Text, nullable=False, default="[]"),  # JSON lists, from the largest record seen
    Column("cities", Text, nullable=False, default="[]"),
    Column("first_ts", Float),
    Column("last_ts", Float),
    Column("updated_at", Float, nullable=False),
)

# ads named by a cluster's summary (a sample of at most 50 per record), beside each ad's own
# cluster id: together they say which ads a cluster holds, also after clusters merged
cluster_ads = Table(
    "cluster_ads", metadata,
    Column("cluster_id", String(ID), primary_key=True),
    Column("ad_id", String(ID), primary_key=True),
    Index("ix_cluster_ads_ad", "ad_id"),
)

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(ID), nullable=False, unique=True),
    Column("ad_id", String(ID), nullable=False),
    Column("cluster_id", String(ID)),
    Column("cluster_size", Integer),
    Column("severity", String(10), nullable=False),
    Column("severity_rank", Integer, nullable=False),
    Column("risk", Float, nullable=False),
    Column("city", String(100)),
    Column("created_at", Float, nullable=False),
    Column("posted_ts", Float),
    Column("record", Text, nullable=False),
    Column("status", String(12), nullable=False, default="new"),
    Column("status_by", String(100)),
    Column("status_at", Float),
    Index("ix_alerts_created", "created_at"),
    Index("ix_alerts_ad", "ad_id"),
    Index("ix_alerts_status", "status", "created_at"),
)

# what analysts did to an alert: status changes and feedback (true/false positive), in order
alert_events = Table(
    "alert_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(ID), nullable=False),
    Column("kind", String(12), nullable=False),  # status, feedback
    Column("value", String(20), nullable=False),
    Column("note", Text),
    Column("actor", String(100), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_alert_events_alert", "alert_id", "at"),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),  # analyst, admin
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

# server-side sessions: the cookie holds a random token, the table its SHA-256
sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

login_attempts = Table(
    "login_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("client", String(64), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_login_attempts_name", "name", "at"),
    Index("ix_login_attempts_client", "client", "at"),
)

# who viewed, searched, exported or changed what, and when
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("user_name", String(100), nullable=False),
    Column("action", String(30), nullable=False),
    Column("target", Text, nullable=False),
    Column("client", String(64)),
    Index("ix_audit_at", "at"),
)
