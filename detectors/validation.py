"""Validate a raw ad's bytes against schemas/raw_ad.v1.json; bad input becomes a reason, not a crash."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import accumulate

import jsonschema

from schemas import SUPPORTED_AD_VERSIONS, load_schema

MAX_RECORD_BYTES = 2 * 1024 * 1024
MAX_BODY_CHARS = 100_000
# A raw ad nests three levels at most (ad → images → image); this leaves room for whatever a
# source puts in `ground_truth` while staying far below where a recursive parser, the schema
# validator or a JSON writer would hit Python's recursion limit
MAX_DEPTH = 32
# deeper than this the text is refused before it is parsed (json.loads recurses once per level);
# between the two it is parsed, so the reason can name the ad and where the nesting is
MAX_PARSE_DEPTH = 200
MAX_REASON_CHARS = 300

# complete JSON strings (escapes included), then everything that is not a bracket
_JSON_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# RFC 3339 date-time, as ISO 8601 spells it (naive times are taken as UTC)
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?")


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
    return _at(error.absolute_path)


def _at(path) -> str:
    joined = "/".join(str(p) for p in path)
    return f"at '{joined}'" if joined else "at the top level"


def _short(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON text, found without parsing it (so a record
    nested thousands deep is measured, not a RecursionError)."""
    brackets = _NOT_BRACKETS.sub("", _JSON_STRINGS.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def parse_date_time(value: str) -> float:
    """An RFC 3339 date-time (naive times taken as UTC) as Unix seconds; ValueError if it is not
    one or lies outside what a datetime can hold."""
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError("is not an RFC 3339 date-time such as 2026-11-01T10:00:00Z")
    normalised = value.upper().replace("Z", "+00:00").replace(" ", "T")
    try:
        dt = datetime.fromisoformat(normalised)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"is not a valid date-time ({exc})") from exc


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _structure_problem(doc: object) -> Invalid | None:
    """Nesting over MAX_DEPTH, or a string (or key) that is not encodable text: a lone UTF-16
    surrogate such as "\\ud800" parses from JSON but cannot be written out again."""
    stack: list[tuple[tuple, object]] = [((), doc)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_DEPTH:
            return Invalid("too_deep", f"record nests deeper than {MAX_DEPTH} levels {_at(path[:3])}…")
        if isinstance(value, str):
            problem = _surrogate(value)
            if problem:
                return Invalid("invalid_unicode", f"{_at(path)}: {problem}")
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _surrogate(key)
                if problem:
                    return Invalid("invalid_unicode", f"a key {_at(path)}: {problem}")
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
    return None


def _surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return (f"lone surrogate U+{code:04X} at character {exc.start} "
                "(not a Unicode character; cannot be stored as UTF-8)")
    return None


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    if error.validator == "required":
        return "missing_field", f"{error.message} {_where(error)}"
    if error.validator == "type":
        return "wrong_type", _short(f"{_where(error)}: {error.message}")
    if error.validator == "maxLength" and list(error.absolute_path)[-1:] == ["body"]:
        return "too_large", f"body is longer than {MAX_BODY_CHARS} characters"
    if error.validator == "additionalProperties":
        return "unknown_field", _short(f"{_where(error)}: {error.message}")
    return "schema_violation", _short(f"{_where(error)}: {error.message}")


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
    depth = nesting_depth(text)
    if depth > MAX_PARSE_DEPTH:
        return Invalid("too_deep", f"record nests arrays and objects {depth} levels deep, over the limit of "
                                   f"{MAX_DEPTH}")
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return Invalid("not_json", f"record is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:  # brackets inside a malformed string fooled the depth count
        return Invalid("too_deep", "record nests arrays and objects too deep to parse")
    except ValueError as exc:  # NaN/Infinity, an integer of more than 4,300 digits
        return Invalid("not_json", _short(f"record is not JSON: {exc}"))
    return validate_ad(doc)


def validate_ad(doc: object) -> dict | Invalid:
    """`doc` itself if it is a valid raw ad, else an `Invalid` naming the first problem."""
    if not isinstance(doc, dict):
        return Invalid("not_object", f"record is JSON but a {type(doc).__name__}, not an object")
    ad_id = doc.get("ad_id") if isinstance(doc.get("ad_id"), str) else None
    if ad_id is not None and _surrogate(ad_id):
        ad_id = None  # not writable as the dead letter's ad_id; the reason names it
    problem = _structure_problem(doc)
    if problem is not None:
        return Invalid(problem.code, problem.reason, ad_id)
    version = doc.get("schema_version", 1)
    if type(version) is not int or version not in SUPPORTED_AD_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_AD_VERSIONS))
        return Invalid(
            "unknown_schema_version",
            _short(f"schema_version {version!r} is not supported (supported: {supported})"),
            ad_id,
        )
    errors = sorted(_validator().iter_errors(doc), key=lambda e: (len(e.absolute_path), e.message))
    if errors:
        code, reason = _describe(errors[0])
        return Invalid(code, reason, ad_id)
    try:
        parse_date_time(doc["posted_at"])
    except ValueError as exc:
        return Invalid("bad_date", _short(f"at 'posted_at': {doc['posted_at']!r} {exc}"), ad_id)
    return doc
