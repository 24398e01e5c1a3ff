"""Entities with evidence spans: phones, emails, handles, URLs, ages, prices, places.

`extract_entities(title, body, country=...)` normalises each field (see `detectors.text`), finds
every entity on the de-obfuscated text and reports it with the slice of the user's original
text it came from. Values are de-duplicated across title and body; evidence accumulates.
"""

from __future__ import annotations

import re
from functools import lru_cache

from detectors.gazetteer import find_cities
from detectors.phones import find_phones
from detectors.text import MAX_FIELD_CHARS, Normalised, normalise, numeric_view

ENTITY_KINDS = ("phones", "emails", "handles", "urls", "ages", "prices", "locations")
MAX_EVIDENCE_PER_ENTITY = 5

# --- emails ----------------------------------------------------------------------------------

_TLDS = (
    "com|net|org|edu|gov|io|co|us|me|info|biz|mx|es|ca|uk|de|fr|ru|app|xyz|live|online|email|mail"
)
_WEBMAIL = frozenset(
    "gmail yahoo hotmail outlook icloud aol protonmail proton gmx ymail live msn mail zoho yandex "
    "tutanota tuta fastmail hushmail".split()
)
_AT_SIGN = r"(?:\s{0,2}(?:\(at\)|\[at\]|\{at\}|<at>|\(@\)|\[@\])\s{0,2}|\s{0,2}@\s{0,2})"
_AT_WORD = r"(?:\s{1,2}at\s{1,2})"
_DOT = r"(?:\s{0,2}(?:\(dot\)|\[dot\]|\{dot\}|<dot>|\(\.\)|\[\.\])\s{0,2}|\s{1,2}dot\s{1,2}|\.)"
_LOCAL = r"(?<![a-z0-9._%+\-])(?P<local>[a-z0-9][a-z0-9._%+\-]{0,63}?)"
_EMAIL = re.compile(
    # name@host.tld, name (at) host (dot) tld ...
    rf"{_LOCAL}{_AT_SIGN}"
    rf"(?P<domain>[a-z0-9][a-z0-9\-]{{0,62}}(?:{_DOT}[a-z0-9][a-z0-9\-]{{0,62}}){{0,3}}?)"
    rf"{_DOT}(?P<tld>{_TLDS}|[a-z]{{2,12}})(?![a-z0-9\-@]|\.[a-z0-9])"
    # name at gmail dot com, name at gmail: webmail hosts only
    rf"|{_LOCAL.replace('local', 'local2')}(?:{_AT_WORD}|{_AT_SIGN})"
    rf"(?P<webmail>{'|'.join(sorted(_WEBMAIL, key=len, reverse=True))})"
    rf"(?:{_DOT}(?P<tld2>{_TLDS}))?(?![a-z0-9\-@])"
)
_DOT_SPLIT = re.compile(_DOT)
_PRONOUNS = frozenset("me us him her them you u".split())

# --- handles ---------------------------------------------------------------------------------

_PLATFORM_NAMES = {
    "snapchat": ("snapchat", "snap chat", "snap", "sc", "\U0001f47b"),
    "instagram": ("instagram", "insta", "ig"),
    "telegram": ("telegram", "tg", "tele"),
    "whatsapp": ("whatsapp", "whats app", "whatsap", "watsapp", "wa", "wapp"),
    "kik": ("kik",),
    "twitter": ("twitter",),
    "tiktok": ("tiktok", "tik tok"),
    "onlyfans": ("onlyfans", "only fans"),
    "wickr": ("wickr",),
    "signal": ("signal",),
    "skype": ("skype",),
    "wechat": ("wechat",),
    "line": ("line",),
    "discord": ("discord",),
}
_ALIAS_TO_PLATFORM = {alias: p for p, aliases in _PLATFORM_NAMES.items() for alias in aliases}
# short or everyday aliases need an explicit separator ("sc: candy", "line id: candy")
_NEEDS_SEPARATOR = frozenset({"sc", "ig", "wa", "tg", "tele", "line", "signal", "snap", "kik"})
_HANDLE = re.compile(
    r"(?<![a-z0-9_])(?P<platform>"
    + "|".join(sorted((re.escape(a) for a in _ALIAS_TO_PLATFORM), key=len, reverse=True))
    + r")(?:\s{0,2}(?P<idword>id|me|name|username|user|handle|add))?"
    r"(?P<sep>\s{0,2}(?:[:=\-\u2192>]|is|@|at|on)\s{0,2}|\s{1,2})@?"
    r"(?P<handle>[a-z0-9_][a-z0-9_.\-]{1,29})(?![a-z0-9_@])"
)
_BARE_HANDLE = re.compile(r"(?<![a-z0-9_.@\-])@(?P<handle>[a-z0-9_][a-z0-9_.]{2,29})(?![a-z0-9_@])")
_HANDLE_URL = re.compile(
    r"(?<![a-z0-9])(?:https?://)?(?:www\.)?(?P<site>instagram\.com|snapchat\.com/add|t\.me|kik\.me"
    r"|twitter\.com|x\.com|tiktok\.com/@?|onlyfans\.com)/@?(?P<handle>[a-z0-9_][a-z0-9_.\-]{1,29})"
)
_SITE_PLATFORM = {
    "instagram.com": "instagram", "snapchat.com/add": "snapchat", "t.me": "telegram",
    "kik.me": "kik", "twitter.com": "twitter", "x.com": "twitter", "tiktok.com/": "tiktok",
    "tiktok.com/@": "tiktok", "onlyfans.com": "onlyfans",
}
_NOT_HANDLES = frozenset(
    """me my at on is it the and or for to add only here now text call id name user dm msg
    message pm inbox please pls plz avail available ok or too also same handle username
    me. you u ur your with via""".split()
) | frozenset(_ALIAS_TO_PLATFORM)

# --- urls ------------------------------------------------------------------------------------

_URL_TLDS = "com|net|org|io|me|co|xxx|us|info|biz|ly|gg|tv|app|site|online|link|club|xyz|cc|to|ws|mx|es"
_URL = re.compile(
    r"(?<![a-z0-9@.\-/])(?:(?:https?://|www\.)[^\s<>\"'{}|\\^`\[\]]{1,300}"
    rf"|[a-z0-9][a-z0-9\-]{{0,62}}(?:\.[a-z0-9\-]{{1,63}}){{0,3}}\.(?:{_URL_TLDS})(?![a-z0-9\-])"
    r"(?:/[^\s<>\"'{}|\\^`\[\]]{0,300})?)"
)
_URL_TRAILING = ".,;:!?)]}'\""

# --- ages ------------------------------------------------------------------------------------

_AGE = re.compile(
    r"(?<![0-9])(?P<a1>[1-9][0-9])\s{0,2}(?:yo|y/o|y\.o\.?|yr\.? ?old|yrs? old|years? old|years? young"
    r"|anos|anitos|ans)(?![a-z])"
    r"|(?<![a-z])(?:age|aged|edad|tengo|just turned|turned)\s{0,2}[:=\-]?\s{0,2}(?P<a2>[1-9][0-9])(?![0-9])"
    r"|(?<![a-z])(?:i am|i'm|im|i'am|soy)\s{1,2}(?:only\s|just\s|a\s){0,2}(?P<a3>[1-9][0-9])"
    r"(?![0-9'\"./,:]|\s{0,2}(?:ft|feet|inch|lbs|kg|cm|min|hour|hr|mile|percent|%|and counting|k\b))"
)
MIN_AGE, MAX_AGE = 12, 79

# --- prices ----------------------------------------------------------------------------------

_UNIT = (
    r"(?P<unit>hh|half ?h(?:ou)?r|half|1/2 ?h(?:ou)?r|30 ?min(?:ute)?s?|qv|quick ?visit|1 ?h(?:ou)?r|1h"
    r"|hr|hour|h|60 ?min(?:ute)?s?|session|visit)(?![a-z])"
)
_CURRENCY_SIGN = {"$": "USD", "\u20ac": "EUR", "\u00a3": "GBP"}
_CURRENCY_WORD = {
    "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD", "eur": "EUR", "euro": "EUR",
    "euros": "EUR", "gbp": "GBP", "pesos": "MXN", "mxn": "MXN",
}
_PRICE = re.compile(
    r"(?P<sign>[$\u20ac\u00a3])\s?(?P<amount>[0-9]{2,5}(?:[.,][0-9]{2})?)(?![0-9])"
    r"(?:\s{0,2}(?:/|per|a|an|for|for a|x)?\s{0,2}" + _UNIT + r")?"
    r"|(?<![0-9.,])(?P<amount2>[0-9]{2,5})\s?(?P<word>usd|dollars?|bucks|eur|euros?|gbp|pesos|mxn"
    r"|roses?|rozes?|donations?|\U0001f339{1,5}|[$\u20ac\u00a3])(?![a-z])"
    r"(?:\s{0,2}(?:/|per|a|an|for|for a|x)?\s{0,2}" + _UNIT.replace("?P<unit>", "?P<unit2>") + r")?"
    r"|(?<![0-9.,])(?P<amount3>[0-9]{2,5})\s?(?:/|per)\s?" + _UNIT.replace("?P<unit>", "?P<unit3>")
    + r"|(?<![a-z0-9])" + _UNIT.replace("?P<unit>", "?P<unit4>")
    + r"\s{0,2}[:=\-]?\s{0,2}(?P<sign4>[$\u20ac\u00a3])?\s?(?P<amount4>[0-9]{2,4})(?![0-9])"
    r"(?:\s?(?P<word4>roses?|rozes?|donations?|\U0001f339{1,5}))?"
)
MIN_PRICE, MAX_PRICE = 10.0, 20_000.0

# --- itineraries -----------------------------------------------------------------------------

_ITINERARY_TRIGGER = re.compile(
    r"in town (?:until|till|til|thru|through)|(?:leaving|heading|going|moving on|off|traveling"
    r"|travelling|flying|driving) (?:for|to)|next stop|then (?:off )?(?:to|in)|arriving (?:in|at|to)"
    r"|on my way to|visiting|touring|on tour|tour dates|(?:here|in) \w+(?: \w+)? (?:until|till|thru)"
    r"|\u2192|->|=>|>>|llegando a|saliendo (?:para|a)|proxima parada"
)
_SENTENCE = re.compile(r"[^.!?\n]+")


@lru_cache(maxsize=128)
def analyse_field(text: str) -> tuple[Normalised, Normalised]:
    """The normalised text and its numeric view (cached: the pipeline asks more than once)."""
    norm = normalise(text)
    return norm, numeric_view(norm)


def _evidence(field: str, original: str, span: tuple[int, int]) -> dict:
    start, end = span
    return {"field": field, "start": start, "end": end, "text": original[start:end]}


def _emails(norm: Normalised) -> list[tuple[str, int, int]]:
    lowered = norm.lower
    if "@" not in lowered and " at " not in lowered and "at)" not in lowered and "at]" not in lowered \
            and "at}" not in lowered and "at>" not in lowered:
        return []
    out = []
    for m in _EMAIL.finditer(lowered):
        if m.group("local") is not None:
            local = m.group("local")
            domain = [p.strip() for p in _DOT_SPLIT.split(m.group("domain"))] + [m.group("tld")]
        else:
            local = m.group("local2")
            domain = [m.group("webmail"), m.group("tld2") or "com"]
        local = local.strip(".")
        if local and all(domain) and local not in _PRONOUNS:
            out.append((f"{local}@{'.'.join(domain)}", m.start(), m.end()))
    return out


def _handles(norm: Normalised) -> list[tuple[str, int, int]]:
    lowered = norm.lower
    out = []
    for m in _HANDLE.finditer(lowered):
        alias = m.group("platform")
        handle = m.group("handle").rstrip(".-")
        sep = m.group("sep").strip()
        if alias in _NEEDS_SEPARATOR and not sep and not m.group("idword"):
            continue
        if handle in _NOT_HANDLES or handle.isdigit() or not any(c.isalpha() for c in handle):
            continue
        if lowered[m.end("handle") : m.end("handle") + 1] == "@":
            continue
        out.append((f"{_ALIAS_TO_PLATFORM[alias]}:{handle}", m.start(), m.end()))
    if "@" in lowered:
        for m in _BARE_HANDLE.finditer(lowered):
            handle = m.group("handle").rstrip(".")
            if handle in _NOT_HANDLES:
                continue
            out.append((f"unknown:{handle}", m.start(), m.end()))
    if "/" in lowered:
        for m in _HANDLE_URL.finditer(lowered):
            platform = _SITE_PLATFORM.get(m.group("site"), m.group("site"))
            out.append((f"{platform}:{m.group('handle').rstrip('.-')}", m.start(), m.end()))
    return out


def _urls(norm: Normalised, email_spans: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    lowered = norm.lower
    if "." not in lowered:
        return []
    out = []
    for m in _URL.finditer(lowered):
        start, end = m.span()
        if any(s <= start < e for s, e in email_spans):
            continue
        while end > start and lowered[end - 1] in _URL_TRAILING:
            end -= 1
        value = norm.text[start:end]
        if "." not in value:
            continue
        out.append((value, start, end))
    return out


def _ages(view: Normalised) -> list[tuple[int, int, int]]:
    out = []
    for m in _AGE.finditer(view.text):
        name = m.lastgroup
        if name not in ("a1", "a2", "a3"):
            name = next(g for g in ("a1", "a2", "a3") if m.group(g))
        age = int(m.group(name))
        if MIN_AGE <= age <= MAX_AGE:
            out.append((age, m.start(), m.end()))
    return out


def _unit(text: str | None) -> str | None:
    if not text:
        return None
    text = text.replace(" ", "")
    if text in ("hh", "half", "halfhour", "halfhr") or text.startswith(("1/2", "30")):
        return "half_hour"
    if text in ("qv", "quickvisit", "session", "visit"):
        return "session"
    return "hour"


def _prices(view: Normalised) -> list[tuple[dict, int, int]]:
    text = view.text
    out = []
    for m in _PRICE.finditer(text):
        groups = m.groupdict()
        currency = None
        coded = False
        if groups["amount"]:
            amount, unit = groups["amount"], groups["unit"]
            currency = _CURRENCY_SIGN[groups["sign"]]
        elif groups["amount2"]:
            amount, unit, word = groups["amount2"], groups["unit2"], groups["word"]
            if word in _CURRENCY_SIGN:
                currency = _CURRENCY_SIGN[word]
            elif word in _CURRENCY_WORD:
                currency = _CURRENCY_WORD[word]
            else:
                coded = True
        elif groups["amount3"]:
            amount, unit = groups["amount3"], groups["unit3"]
        else:
            amount, unit = groups["amount4"], groups["unit4"]
            if groups["sign4"]:
                currency = _CURRENCY_SIGN[groups["sign4"]]
            coded = bool(groups["word4"])
        value = float(amount.replace(",", "."))
        if not MIN_PRICE <= value <= MAX_PRICE:
            continue
        out.append(
            ({"amount": value, "currency": currency, "unit": _unit(unit), "coded": coded}, m.start(), m.end())
        )
    return out


def _itinerary(norm: Normalised, cities: list[tuple[str, int, int]]) -> list[str]:
    if not cities:
        return []
    lowered = norm.lower
    ordered: list[str] = []
    for sentence in _SENTENCE.finditer(lowered):
        if not _ITINERARY_TRIGGER.search(sentence.group(0)):
            continue
        for name, start, _end in cities:
            if sentence.start() <= start < sentence.end() and (not ordered or ordered[-1] != name):
                ordered.append(name)
    return ordered


class _Collector:
    """Entities of one kind, de-duplicated by value, evidence accumulated."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def add(self, value, evidence: dict) -> None:
        key = repr(value)
        item = self.items.get(key)
        if item is None:
            self.items[key] = {"value": value, "evidence": [evidence]}
        elif len(item["evidence"]) < MAX_EVIDENCE_PER_ENTITY and evidence not in item["evidence"]:
            item["evidence"].append(evidence)

    def as_list(self) -> list[dict]:
        return list(self.items.values())


def _field_text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def extract_entities(
    title: str, body: str, *, country: str | None = None, region: str | None = None
) -> dict:
    """All entities of an ad with evidence; see the module docstring and schemas/scored_ad.v1.json.

    `country` (ISO 3166 alpha-2) is the default region for phone numbers ("US" when None);
    `region` is accepted for the pipeline's convenience and not used yet.
    """
    collectors = {kind: _Collector() for kind in ENTITY_KINDS}
    flags: list[str] = []
    itinerary: list[str] = []
    phone_region = (country or "US").upper() if isinstance(country, str) else "US"
    for field, raw in (("title", _field_text(title)), ("body", _field_text(body))):
        if len(raw) > MAX_FIELD_CHARS:
            raw = raw[:MAX_FIELD_CHARS]
            if "truncated" not in flags:
                flags.append("truncated")
        if not raw:
            continue
        norm, view = analyse_field(raw)
        for match in find_phones(view, phone_region):
            collectors["phones"].add(match.e164, _evidence(field, raw, view.span(match.start, match.end)))
        emails = _emails(norm)
        for value, start, end in emails:
            collectors["emails"].add(value, _evidence(field, raw, norm.span(start, end)))
        for value, start, end in _handles(norm):
            collectors["handles"].add(value, _evidence(field, raw, norm.span(start, end)))
        for value, start, end in _urls(norm, [(s, e) for _, s, e in emails]):
            collectors["urls"].add(value, _evidence(field, raw, norm.span(start, end)))
        for value, start, end in _ages(view):
            collectors["ages"].add(value, _evidence(field, raw, view.span(start, end)))
        for value, start, end in _prices(view):
            collectors["prices"].add(value, _evidence(field, raw, view.span(start, end)))
        cities = find_cities(norm.text)
        for name, start, end in cities:
            collectors["locations"].add(name, _evidence(field, raw, norm.span(start, end)))
        for name in _itinerary(norm, cities):
            if not itinerary or itinerary[-1] != name:
                itinerary.append(name)
    result: dict[str, list] = {kind: collectors[kind].as_list() for kind in ENTITY_KINDS}
    result["itinerary"] = itinerary
    result["flags"] = flags
    return result


def placeholder_spans(norm: Normalised, view: Normalised) -> list[tuple[int, int, str]]:
    """Sorted (start, end, label) spans on `norm.text` of contacts, for template text."""
    spans: list[tuple[int, int, str]] = []
    for match in find_phones(view, "US"):
        start, end = view.to_parent(match.start, match.end)
        spans.append((start, end, "phone"))
    emails = _emails(norm)
    spans += [(s, e, "email") for _, s, e in emails]
    spans += [(s, e, "handle") for _, s, e in _handles(norm)]
    spans += [(s, e, "url") for _, s, e in _urls(norm, [(s, e) for _, s, e in emails])]
    spans.sort()
    return spans
