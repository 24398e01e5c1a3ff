"""Validate a raw ad's bytes against schemas/raw_ad.v1.json; bad input becomes a reason, not a crash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import jsonschema

from schemas import SUPPORTED_AD_VERSIONS, load_schema

MAX_RECORD_BYTES = 2 * 1024 * 1024
MAX_BODY_CHARS = 100_000


@dataclass(frozen=True)
class Invalid:
    """Why a record was rejected: a stable code and a sentence saying what and where."""

    code: str
    reason: str
    ad_id: str | None = None


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema("raw_ad")
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _where(error: jsonschema.ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path)
    return f"at '{path}'" if path else "at the top level"


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    if error.validator == "required":
        return "missing_field", f"{error.message} {_where(error)}"
    if error.validator == "type":
        return "wrong_type", f"{_where(error)}: {error.message}"
    if error.validator == "maxLength" and list(error.absolute_path)[-1:] == ["body"]:
        return "too_large", f"body is longer than {MAX_BODY_CHARS} characters"
    if error.validator == "additionalProperties":
        return "unknown_field", f"{_where(error)}: {error.message}"
    return "schema_violation", f"{_where(error)}: {error.message}"


def parse_raw_ad(raw: bytes | str, *, max_bytes: int = MAX_RECORD_BYTES) -> dict | Invalid:
    """The ad as a dict if `raw` is a valid raw ad (schemas/raw_ad.v1.json), else an `Invalid`."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogatepass")
    if len(raw) > max_bytes:
        return Invalid("too_large", f"record is {len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Invalid("invalid_utf8", f"record is not valid UTF-8 at byte {exc.start}: {exc.reason}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return Invalid("not_json", f"record is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    return validate_ad(doc)


def validate_ad(doc: object) -> dict | Invalid:
    """`doc` itself if it is a valid raw ad, else an `Invalid` naming the first problem."""
    if not isinstance(doc, dict):
        return Invalid("not_object", f"record is JSON but a {type(doc).__name__}, not an object")
    ad_id = doc.get("ad_id") if isinstance(doc.get("ad_id"), str) else None
    version = doc.get("schema_version", 1)
    if version not in SUPPORTED_AD_VERSIONS or isinstance(version, bool):
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_AD_VERSIONS))
        return Invalid(
            "unknown_schema_version",
            f"schema_version {version!r} is not supported (supported: {supported})",
            ad_id,
        )
    errors = sorted(_validator().iter_errors(doc), key=lambda e: (len(e.absolute_path), e.message))
    if errors:
        code, reason = _describe(errors[0])
        return Invalid(code, reason, ad_id)
    return doc
