"""Hypothesis strategies for malformed raw-ad records (bytes, one JSON line each), shared by the
batch-path and worker property tests.

Each record starts from a valid ad and is then broken in one or more ways: a field replaced by
arbitrary JSON (nested, huge, of the wrong type), a string carrying a lone surrogate, a date
that is not one, a number that is NaN, infinite or thousands of digits long, an unknown field,
a duplicated key, nesting thousands deep, invalid UTF-8, truncation or plain random bytes. No
record contains a newline byte, so a file of them has one record per line; none is blank.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

FIELDS = ("ad_id", "source", "posted_at", "url", "title", "body", "location", "images", "phones",
          "ground_truth", "schema_version")
SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff")


def base_ad(ad_id: str) -> dict:
    return {"ad_id": ad_id, "source": "prop", "posted_at": "2026-11-01T10:00:00Z",
            "title": "Sofa for sale", "body": "Blue sofa, call 702 555 0123 after six.",
            "location": {"city": "Reno", "region": "NV", "country": "US"}}


def text_with_surrogates() -> st.SearchStrategy[str]:
    """Text that may hold a lone surrogate anywhere (Hypothesis' text() never does)."""
    return st.builds(lambda head, s, tail: head + s + tail, st.text(max_size=20),
                     st.sampled_from(SURROGATES), st.text(max_size=20))


def dates() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["yesterday", "", "2026-13-01T10:00:00Z", "2026-02-30T10:00:00Z",
                         "2026-11-01", "10:00", "2026-11-01T25:00:00Z", "9999-12-31T23:59:59-23:59",
                         "0001-01-01T00:00:00+14:00", "2026-11-01T10:00:00.1234567890123Z",
                         "2026-11-01T10:00:00+99:99", "２０２６-11-01T10:00:00Z"]),
        st.datetimes().map(lambda d: d.isoformat()),
        st.text(max_size=30),
    )


def numbers() -> st.SearchStrategy[object]:
    return st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(min_value=10 ** 300, max_value=10 ** 400),
                     st.just(2 ** 64), st.just(-(2 ** 63) - 1))


def json_values() -> st.SearchStrategy[object]:
    leaves = st.one_of(st.none(), st.booleans(), numbers(), st.text(max_size=50),
                       text_with_surrogates(), dates())
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
        max_leaves=12)


@st.composite
def broken_ad(draw, ad_id: str) -> dict:
    """A valid ad with some fields replaced, removed or added."""
    ad = base_ad(ad_id)
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["replace", "delete", "date", "surrogate", "number"]))
        if action == "delete":
            ad.pop(field, None)
        elif action == "date":
            ad["posted_at"] = draw(dates())
        elif action == "surrogate":
            ad[field] = draw(text_with_surrogates())
        elif action == "number":
            ad[field] = draw(numbers())
        else:
            ad[field] = draw(json_values())
    if draw(st.booleans()):
        ad[draw(st.text(min_size=1, max_size=10))] = draw(json_values())  # unknown field
    if draw(st.integers(0, 9)) == 0:
        ad["body"] = "x" * draw(st.sampled_from([100_001, 2 * 1024 * 1024 + 1]))  # sizes
    return ad


def _serialise(ad: dict, ascii_only: bool) -> bytes:
    text = json.dumps(ad, ensure_ascii=ascii_only, allow_nan=True)
    # ensure_ascii=False writes a lone surrogate as such: encoded with surrogatepass it becomes
    # the invalid UTF-8 a careless producer would send
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def malformed_record(draw, ad_id: str) -> bytes:
    """One record's bytes; never contains a newline, never blank."""
    kind = draw(st.sampled_from(["broken", "broken", "broken", "valid", "duplicate_key", "deep",
                                 "huge_int", "bad_utf8", "truncated", "random", "not_object"]))
    ad = draw(broken_ad(ad_id)) if kind != "valid" else base_ad(ad_id)
    raw = _serialise(ad, draw(st.booleans()))
    if kind == "duplicate_key":
        raw = raw[:-1] + b', "ad_id": ' + json.dumps(draw(json_values())).encode() + b"}"
    elif kind == "deep":
        depth = draw(st.sampled_from([33, 100, 1000, 5000, 100_000]))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        raw = raw[:-1] + b', "ground_truth": ' + opener * depth + b"1" + closer * depth + b"}"
    elif kind == "huge_int":  # more digits than Python converts (json.dumps cannot write it)
        field = draw(st.sampled_from(["schema_version", "title", "ground_truth"]))
        raw = raw[:-1] + f', "{field}": '.encode() + b"9" * draw(st.sampled_from([4301, 20_000])) + b"}"
    elif kind == "bad_utf8":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])) + raw[at:]
    elif kind == "truncated":
        raw = raw[: draw(st.integers(1, max(1, len(raw) - 1)))]
    elif kind == "random":
        raw = draw(st.binary(min_size=1, max_size=200))
    elif kind == "not_object":
        raw = json.dumps(draw(json_values())).encode("utf-8", errors="surrogatepass")
    raw = raw.replace(b"\n", b" ").replace(b"\r", b" ")
    return raw if raw.strip() else b"?"


def record_batches(min_size: int = 1, max_size: int = 30) -> st.SearchStrategy[list[bytes]]:
    """Lists of malformed records with distinct ad ids (p0, p1, ... plus a per-list tag)."""
    return st.integers(0, 10 ** 6).flatmap(lambda tag: st.lists(
        st.integers(0, 10 ** 6).flatmap(lambda n: malformed_record(f"p{tag}-{n}")),
        min_size=min_size, max_size=max_size))
