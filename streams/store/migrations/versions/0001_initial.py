"""The first store: ads with their identifiers, photo hashes and text index; clusters; alerts
and what analysts did with them; users, sessions, login attempts and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 200

SQLITE_FTS = [
    # external-content FTS5 over ads(title, body), kept in step by triggers
    "CREATE VIRTUAL TABLE ads_fts USING fts5(title, body, content='ads', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER ads_fts_insert AFTER INSERT ON ads BEGIN "
    "INSERT INTO ads_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER ads_fts_delete AFTER DELETE ON ads BEGIN "
    "INSERT INTO ads_fts(ads_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER ads_fts_update AFTER UPDATE OF title, body ON ads BEGIN "
    "INSERT INTO ads_fts(ads_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO ads_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]
POSTGRES_FTS = [
    "ALTER TABLE ads ADD COLUMN search tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(body, ''))) STORED",
    "CREATE INDEX ix_ads_search ON ads USING gin (search)",
]


def upgrade() -> None:
    op.create_table(
        "ads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ad_id", sa.String(ID), nullable=False, unique=True),
        sa.Column("source", sa.String(100)),
        sa.Column("url", sa.Text),
        sa.Column("posted_ts", sa.Float),
        sa.Column("city", sa.String(100)),
        sa.Column("region", sa.String(100)),
        sa.Column("country", sa.String(10)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("risk", sa.Float, nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("alert", sa.Boolean, nullable=False),
        sa.Column("cluster_id", sa.String(ID)),
        sa.Column("cluster_size", sa.Integer),
        sa.Column("template_id", sa.String(ID)),
        sa.Column("scored_at", sa.Float),
        sa.Column("stored_at", sa.Float, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_ads_cluster", "ads", ["cluster_id"])
    op.create_index("ix_ads_posted", "ads", ["posted_ts"])
    op.create_table(
        "identifiers",
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("value", sa.String(300), primary_key=True),
        sa.Column("ad_id", sa.String(ID), primary_key=True),
    )
    op.create_index("ix_identifiers_ad", "identifiers", ["ad_id"])
    op.create_table(
        "images",
        sa.Column("ad_id", sa.String(ID), primary_key=True),
        sa.Column("image_index", sa.Integer, primary_key=True),
        sa.Column("ref", sa.Text),
        sa.Column("pdq", sa.String(64)),
        sa.Column("pdq_quality", sa.Integer),
        sa.Column("phash", sa.String(16)),
        sa.Column("dhash", sa.String(16)),
        *(sa.Column(f"band{i}", sa.Integer) for i in range(5)),
    )
    for i in range(5):
        op.create_index(f"ix_images_band{i}", "images", [f"band{i}"])
    op.create_table(
        "clusters",
        sa.Column("cluster_id", sa.String(ID), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("phones", sa.Text, nullable=False),
        sa.Column("cities", sa.Text, nullable=False),
        sa.Column("first_ts", sa.Float),
        sa.Column("last_ts", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "cluster_ads",
        sa.Column("cluster_id", sa.String(ID), primary_key=True),
        sa.Column("ad_id", sa.String(ID), primary_key=True),
    )
    op.create_index("ix_cluster_ads_ad", "cluster_ads", ["ad_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(ID), nullable=False, unique=True),
        sa.Column("ad_id", sa.String(ID), nullable=False),
        sa.Column("cluster_id", sa.String(ID)),
        sa.Column("cluster_size", sa.Integer),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("risk", sa.Float, nullable=False),
        sa.Column("city", sa.String(100)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("posted_ts", sa.Float),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("status_by", sa.String(100)),
        sa.Column("status_at", sa.Float),
    )
    op.create_index("ix_alerts_created", "alerts", ["created_at"])
    op.create_index("ix_alerts_ad", "alerts", ["ad_id"])
    op.create_index("ix_alerts_status", "alerts", ["status", "created_at"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("value", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_alert_events_alert", "alert_events", ["alert_id", "at"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_login_attempts_name", "login_attempts", ["name", "at"])
    op.create_index("ix_login_attempts_client", "login_attempts", ["client", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("client", sa.String(64)),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"])
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_FTS if dialect == "sqlite" else POSTGRES_FTS if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS ads_fts")
    for table in ("audit_log", "login_attempts", "sessions", "users", "alert_events", "alerts",
                  "cluster_ads", "clusters", "images", "identifiers", "ads"):
        op.drop_table(table)
