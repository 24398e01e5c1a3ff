"""A cluster as a case file: CSV (one row per ad) and JSON (everything the cluster page shows,
with each ad's text and evidence). No I/O.

CSV cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) are
prefixed with a quote (OWASP's CSV-injection advice), so `+17025550123` reads `'+17025550123`.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from detectors.linking.template_form import forms_by_template

CSV_COLUMNS = ("ad_id", "posted_at", "city", "region", "severity", "risk", "cluster_id", "phones", "emails",
               "handles", "template_id", "title", "url")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts is not None else None


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def ad_entry(ad: dict) -> dict:
    """One ad of the case file from a stored ad (`streams.store.queries.ad`)."""
    record = ad.get("record") or {}
    entities = record.get("entities") or {}
    return {
        "ad_id": ad["ad_id"], "posted_at": iso(ad.get("posted_ts")), "city": ad.get("city"),
        "region": ad.get("region"), "severity": ad.get("severity"), "risk": ad.get("risk"),
        "cluster_id": ad.get("cluster_id"), "template_id": ad.get("template_id"), "url": ad.get("url"),
        "title": ad.get("title") or "", "body": ad.get("body") or "",
        "phones": list(entities.get("phones") or []), "emails": list(entities.get("emails") or []),
        "handles": list(entities.get("handles") or []),
        "indicators": [{"id": i.get("id"), "category": i.get("category"), "evidence": i.get("evidence")}
                       for i in record.get("indicators") or []],
        "reasons": [{"code": r.get("code"), "contribution": r.get("contribution"), "detail": r.get("detail")}
                    for r in record.get("reasons") or []],
        "image_matches": list(record.get("image_matches") or []),
        "images": [{k: i.get(k) for k in ("index", "ref", "pdq", "phash", "dhash")}
                   for i in record.get("images") or []],
    }


def case_json(cluster_id: str, summary: dict | None, ads: list[dict], *, exported_by: str, exported_at: float,
              merged_into: str | None = None) -> dict:
    entries = [ad_entry(a) for a in sorted(ads, key=lambda a: (a.get("posted_ts") or 0, a["ad_id"]))]
    times = [a.get("posted_ts") for a in ads if a.get("posted_ts") is not None]

    def union(name: str) -> list[str]:
        return sorted({v for e in entries for v in e[name]})

    return {
        "format": "vigil-case-file/1",
        "cluster_id": cluster_id,
        "merged_into": merged_into,
        "exported_by": exported_by,
        "exported_at": iso(exported_at),
        "size": len(entries),
        "first_seen": iso(min(times)) if times else None,
        "last_seen": iso(max(times)) if times else None,
        "cities": sorted({e["city"] for e in entries if e["city"]}),
        "phones": union("phones"),
        "emails": union("emails"),
        "handles": union("handles"),
        "templates": sorted({e["template_id"] for e in entries if e["template_id"]}),
        # each shared template's readable form: its fixed words, a slot where the ads differ
        "template_forms": [{"template_id": t, **form.as_record()} for t, form in forms_by_template(
            [(e["template_id"], e["body"]) for e in reversed(entries)])],
        "summary_at_last_score": summary,
        "ads": entries,
    }


def case_csv(case: dict) -> str:
    """The case file's ads as CSV (header first); lists are joined with a space."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in case["ads"]:
        writer.writerow([safe_cell(" ".join(entry[c]) if isinstance(entry[c], list) else entry[c])
                         for c in CSV_COLUMNS])
    return buffer.getvalue()
