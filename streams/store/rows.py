"""How records from `ads.scored` and `alerts` become rows of the store's tables (no I/O).

A scored ad gives its `ads` row, one `identifiers` row per contact, one `images` row per hashed
photo, its cluster's summary and the cluster's sample of ad ids. The same record always gives
the same rows, so writing it twice (the topics are at-least-once) changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from detectors.scoring.scorer import SEVERITIES, severity_rank

IDENTIFIER_KINDS = {"phones": "phone", "emails": "email", "handles": "handle", "urls": "url"}
DHASH_BANDS = ((0, 13), (13, 26), (26, 39), (39, 52), (52, 64))  # bit ranges of the 5 bands
MAX_ID = 200
MAX_VALUE = 300


class BadRecord(ValueError):
    """A record the store cannot keep: the message says which field is wrong."""


@dataclass
class AdRows:
    ad: dict
    identifiers: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    cluster: dict | None = None
    cluster_ads: list[dict] = field(default_factory=list)
    # a hub's regroup this ad caused: {from, cluster_id, size, ad_ids} (links.py: regrouped)
    regrouped: list[dict] = field(default_factory=list)


def timestamp(value) -> float | None:
    """Unix seconds from an ISO 8601 string (naive times are UTC) or a number; None if absent
    or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def dhash_bands(dhash: str | None) -> list[int | None]:
    """The five bands of a 64-bit dHash (hex) as integers: two hashes within distance 4 agree
    exactly on at least one band."""
    if not isinstance(dhash, str) or len(dhash) != 16:
        return [None] * len(DHASH_BANDS)
    try:
        bits = int(dhash, 16)
    except ValueError:
        return [None] * len(DHASH_BANDS)
    return [(bits >> (64 - end)) & ((1 << (end - start)) - 1) for start, end in DHASH_BANDS]


def _text_id(record: dict, name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise BadRecord(f"{name} is missing or not a string")
    if len(value) > MAX_ID:
        raise BadRecord(f"{name} is longer than {MAX_ID} characters")
    return value


def _severity(record: dict) -> str:
    severity = record.get("severity")
    if severity not in SEVERITIES:
        raise BadRecord(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return severity


def _risk(record: dict) -> float:
    risk = record.get("risk")
    if not isinstance(risk, int | float) or not 0 <= risk <= 1:
        raise BadRecord(f"risk {risk!r} is not a number between 0 and 1")
    return float(risk)


def _short(value, limit: int = 100) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


def scored_ad_rows(record: dict, *, stored_at: float) -> AdRows:
    """The rows of one scored ad (schemas/scored_ad.v1.json); BadRecord says what is wrong."""
    if not isinstance(record, dict):
        raise BadRecord("the record is not a JSON object")
    ad_id = _text_id(record, "ad_id")
    severity, risk = _severity(record), _risk(record)
    entities = record.get("entities")
    if not isinstance(entities, dict):
        raise BadRecord("entities is missing or not an object")
    location = record.get("location") if isinstance(record.get("location"), dict) else {}
    cluster = record.get("cluster") if isinstance(record.get("cluster"), dict) else None
    link = record.get("link") if isinstance(record.get("link"), dict) else {}
    title = record.get("title") if isinstance(record.get("title"), str) else ""
    body = record.get("body") if isinstance(record.get("body"), str) else ""
    kept = {k: v for k, v in record.items() if k not in ("title", "body")}
    rows = AdRows(ad={
        "ad_id": ad_id,
        "source": _short(record.get("source")),
        "url": record.get("url") if isinstance(record.get("url"), str) else None,
        "posted_ts": timestamp(record.get("posted_at")),
        "city": _short(location.get("city")),
        "region": _short(location.get("region")),
        "country": _short(location.get("country"), 10),
        "title": title,
        "body": body,
        "risk": risk,
        "severity": severity,
        "severity_rank": severity_rank(severity),
        "alert": bool(record.get("alert")),
        "cluster_id": _short(cluster.get("cluster_id"), MAX_ID) if cluster else None,
        "cluster_size": int(cluster.get("size") or 1) if cluster else None,
        "template_id": _short(link.get("template_id"), MAX_ID),
        "scored_at": timestamp(record.get("scored_at")),
        "stored_at": stored_at,
        "record": json.dumps(kept, ensure_ascii=False, separators=(",", ":"), default=str),
    })
    seen = set()
    for field_name, kind in IDENTIFIER_KINDS.items():
        for value in entities.get(field_name) or []:
            if not isinstance(value, str) or not value or len(value) > MAX_VALUE:
                continue
            value = value.lower() if kind in ("email", "handle") else value
            if (kind, value) not in seen:
                seen.add((kind, value))
                rows.identifiers.append({"kind": kind, "value": value, "ad_id": ad_id})
    for image in record.get("images") or []:
        if not isinstance(image, dict) or not isinstance(image.get("index"), int):
            continue
        bands = dhash_bands(image.get("dhash"))
        rows.images.append({"ad_id": ad_id, "image_index": image["index"], "ref": _short(image.get("ref"), 2000),
                            "pdq": _short(image.get("pdq"), 64), "pdq_quality": image.get("pdq_quality"),
                            "phash": _short(image.get("phash"), 16), "dhash": _short(image.get("dhash"), 16),
                            **{f"band{i}": band for i, band in enumerate(bands)}})
    if cluster and rows.ad["cluster_id"]:
        cluster_id = rows.ad["cluster_id"]
        rows.cluster = {
            "cluster_id": cluster_id,
            "size": rows.ad["cluster_size"],
            "phones": json.dumps([p for p in cluster.get("phones") or [] if isinstance(p, str)]),
            "cities": json.dumps([c for c in cluster.get("cities") or [] if isinstance(c, str)]),
            "first_ts": timestamp(cluster.get("first_seen")),
            "last_ts": timestamp(cluster.get("last_seen")),
            "updated_at": stored_at,
        }
        members = {ad_id} | {a for a in cluster.get("ad_ids") or [] if isinstance(a, str) and len(a) <= MAX_ID}
        rows.cluster_ads = [{"cluster_id": cluster_id, "ad_id": a} for a in sorted(members)]
    for moved in link.get("regrouped") or []:
        if not isinstance(moved, dict):
            raise BadRecord("link.regrouped holds something other than an object")
        old, new, size = moved.get("from"), moved.get("cluster_id"), moved.get("size")
        if not (isinstance(old, str) and isinstance(new, str) and isinstance(size, int)
                and 0 < len(old) <= MAX_ID and 0 < len(new) <= MAX_ID):
            raise BadRecord("link.regrouped: each needs from, cluster_id (ids) and size (an integer)")
        ids = [a for a in moved.get("ad_ids") or [] if isinstance(a, str) and len(a) <= MAX_ID]
        rows.regrouped.append({
            "from": old, "cluster_id": new, "size": size, "ad_ids": ids,
            "phones": json.dumps([p for p in moved.get("phones") or [] if isinstance(p, str)]),
            "cities": json.dumps([c for c in moved.get("cities") or [] if isinstance(c, str)]),
            "first_ts": timestamp(moved.get("first_seen")), "last_ts": timestamp(moved.get("last_seen"))})
    return rows


def alert_row(record: dict) -> dict:
    """The `alerts` row of one alert (schemas/alert.v1.json); a new alert's status is `new`."""
    if not isinstance(record, dict):
        raise BadRecord("the record is not a JSON object")
    alert_id, ad_id = _text_id(record, "alert_id"), _text_id(record, "ad_id")
    severity, risk = _severity(record), _risk(record)
    created_at = timestamp(record.get("created_at"))
    if created_at is None:
        raise BadRecord("created_at is missing or not a time")
    cluster = record.get("cluster") if isinstance(record.get("cluster"), dict) else None
    location = record.get("location") if isinstance(record.get("location"), dict) else {}
    return {
        "alert_id": alert_id,
        "ad_id": ad_id,
        "cluster_id": _short(cluster.get("cluster_id"), MAX_ID) if cluster else None,
        "cluster_size": int(cluster.get("size") or 1) if cluster else None,
        "severity": severity,
        "severity_rank": severity_rank(severity),
        "risk": risk,
        "city": _short(location.get("city")),
        "created_at": created_at,
        "posted_ts": timestamp(record.get("posted_at")),
        "record": json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str),
        "status": "new",
    }
