"""Entities with evidence spans: phones, emails, handles, URLs, ages, prices, places.

`extract_entities(title, body, country=...)` normalises each field (see `detectors.text`), finds
every entity on the de-obfuscated text and reports it with the slice of the user's original
text it came from. Values are de-duplicated across title and body; evidence accumulates.

Speed: the pipeline calls this once per ad, so no extractor scans the whole text with a
general regex. Each looks for cheap anchors first (digit runs, "@", " at ", ".com", platform
names through an Aho-Corasick automaton) and runs small anchored regexes around them.
"""

from __future__ import annotations

import re
from functools import lru_cache

import ahocorasick

from detectors.gazetteer import find_cities
from detectors.phones import find_phones
from detectors.text import Normalised, analyse_ad, previous_word, previous_words

ENTITY_KINDS = ("phones", "emails", "handles", "urls", "ages", "prices", "locations")
MAX_EVIDENCE_PER_ENTITY = 5

_DIGIT_RUN = re.compile(r"[0-9]+")

# --- emails ----------------------------------------------------------------------------------

_TLDS = (
    "com|net|org|edu|gov|io|co|us|me|info|biz|mx|es|ca|uk|de|fr|ru|app|xyz|live|online|email|mail"
)
_WEBMAIL = (
    "protonmail|hotmail|outlook|tutanota|fastmail|hushmail|icloud|yandex|proton|gmail"
    "|yahoo|ymail|live|mail|zoho|tuta|gmx|aol|msn"
)
# "@", "(at)", "[at]", " at " ... : the token between the local part and the host
_AT_ANCHOR = re.compile(r"@|[(\[{<]at[)\]}>]|[(\[]@[)\]]| at ")
_LOCAL_BEFORE = re.compile(r"(?<![a-z0-9._%+\-])[a-z0-9][a-z0-9._%+\-]{0,63}\s{0,2}$")
_DOT = r"(?:\s{0,2}(?:\(dot\)|\[dot\]|\{dot\}|<dot>|\(\.\)|\[\.\])\s{0,2}|\s{1,2}dot\s{1,2}|\.)"
_HOST_AFTER = re.compile(
    rf"\s{{0,2}}(?P<domain>[a-z0-9][a-z0-9\-]{{0,62}}(?:{_DOT}[a-z0-9][a-z0-9\-]{{0,62}}){{0,3}}?)"
    rf"{_DOT}(?P<tld>{_TLDS}|[a-z]{{2,12}})(?![a-z0-9\-@]|\.[a-z0-9])"
)
_WEBMAIL_AFTER = re.compile(
    rf"\s{{0,2}}(?P<domain>{_WEBMAIL})(?:{_DOT}(?P<tld>{_TLDS}))?(?![a-z0-9\-@]|\.[a-z0-9])"
)
_DOT_SPLIT = re.compile(_DOT)
# an email needs "@", a bracketed "at" or a webmail host after " at "; two regexes that start
# with a literal (sre then skips ahead with a fast search) instead of 26 `in` scans
_AT_BRACKETED = re.compile(r"at[)\]}>]")
_AT_WEBMAIL = re.compile(r" at (?:" + _WEBMAIL + ")")
_PRONOUNS = frozenset(["me", "us", "him", "her", "them", "you", "u"])

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
_HANDLE_AFTER = re.compile(
    r"(?:\s{0,2}(?P<idword>id|me|name|username|user|handle|add))?"
    r"(?P<sep>\s{0,2}(?:[:=\-\u2192>]|is|@|at|on)\s{0,2}|\s{1,2})@?"
    r"(?P<handle>[a-z0-9_][a-z0-9_.\-]{1,29})(?![a-z0-9_@])"
)
_BARE_HANDLE_AFTER = re.compile(r"(?P<handle>[a-z0-9_][a-z0-9_.]{2,29})(?![a-z0-9_@])")
_HANDLE_URL = re.compile(
    r"(?<![a-z0-9])(?:https?://)?(?:www\.)?(?P<site>instagram\.com|snapchat\.com/add|t\.me|kik\.me"
    r"|twitter\.com|x\.com|tiktok\.com/@?|onlyfans\.com)/@?(?P<handle>[a-z0-9_][a-z0-9_.\-]{1,29})"
)
_HANDLE_SITES = (
    "instagram.com/",
    "snapchat.com/add/",
    "t.me/",
    "kik.me/",
    "twitter.com/",
    "x.com/",
    "tiktok.com/",
    "onlyfans.com/",
)
_SITE_PLATFORM = {
    "instagram.com": "instagram",
    "snapchat.com/add": "snapchat",
    "t.me": "telegram",
    "kik.me": "kik",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "tiktok.com/": "tiktok",
    "tiktok.com/@": "tiktok",
    "onlyfans.com": "onlyfans",
}
_NOT_HANDLES = frozenset(
    """
    me my at on is it the and or for to add only here now text call id name user dm msg
    message pm inbox please pls plz avail available ok too also same handle username you u
    ur your with via
    """.split()  # noqa: SIM905 (a word list reads better as text)
) | frozenset(_ALIAS_TO_PLATFORM)


_BOUNDARY_CHARS = " \n\t(/,.:;|-*[{<>\"'!?"


@lru_cache(maxsize=1)
def _platform_automaton() -> ahocorasick.Automaton:
    """Platform names as keys preceded by a boundary character (scan " " + text), so that
    "ig" inside "big" or "sc" inside "discreet" never even reach Python."""
    automaton = ahocorasick.Automaton()
    for alias in _ALIAS_TO_PLATFORM:
        prefixes = _BOUNDARY_CHARS if alias[0].isalnum() else [""]
        for prefix in prefixes:
            automaton.add_word(prefix + alias, alias)
    automaton.make_automaton()
    return automaton


# --- urls ------------------------------------------------------------------------------------

_URL_TLDS = (
    "com|net|org|io|me|co|xxx|us|info|biz|ly|gg|tv|app|site|online|link|club|xyz|cc|to|ws|mx|es"
)
_URL_PATH = r"(?:/[^\s<>\"'{}|\\^`\[\]]{0,300})?"
_URL_SCHEME = re.compile(r"(?:https?://|www\.)[^\s<>\"'{}|\\^`\[\]]{1,300}")
_TLD_ANCHOR = re.compile(rf"\.(?:{_URL_TLDS})(?![a-z0-9\-])")
_HOST_BEFORE = re.compile(r"(?<![a-z0-9@.\-/])[a-z0-9][a-z0-9\-]{0,62}(?:\.[a-z0-9\-]{1,63}){0,3}$")
_PATH_AFTER = re.compile(_URL_PATH)
_URL_TRAILING = ".,;:!?)]}'\""

# --- ages ------------------------------------------------------------------------------------

_AGE_AFTER = re.compile(
    r"\s{0,2}(?:yo|y/o|y\.o\.?|yr\.? ?old|yrs? old|years? old|years? young|anos|anitos|ans)"
    r"(?![a-z])"
)
_AGE_INTRO = frozenset({"age", "aged", "edad", "tengo", "turned"})
_I_AM = frozenset({"i'm", "im", "i'am", "soy", "iam"})
_AGE_FILLER = frozenset({"only", "just", "a"})
_NOT_AGE_AFTER = re.compile(
    r"[0-9'\"]|[./:,][0-9]|\s{0,2}(?:ft|feet|inch(?:es)?|lbs?|kg|cm|min(?:ute)?s?|hours?|hrs?|miles?"
    r"|percent|%|k|minutos|horas|kilos?)(?![a-z])"
)
MIN_AGE, MAX_AGE = 12, 79

# --- prices ----------------------------------------------------------------------------------

_UNIT = (
    r"(?P<unit>hh|half ?h(?:ou)?r|half|1/2 ?h(?:ou)?r|30 ?min(?:ute)?s?|qv|quick ?visit"
    r"|1 ?h(?:ou)?r"
    r"|1h|hr|hour|h|60 ?min(?:ute)?s?|session|visit)(?![a-z])"
)
_CURRENCY_SIGN = {"$": "USD", "\u20ac": "EUR", "\u00a3": "GBP"}
_CURRENCY_WORD = {
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "gbp": "GBP",
    "pesos": "MXN",
    "mxn": "MXN",
}
_PRICE_WORD_AFTER = re.compile(
    r"\s?(?P<word>usd|dollars?|bucks|eur|euros?|gbp|pesos|mxn|roses?|rozes?|donations?"
    r"|\U0001f339{1,5}|[$\u20ac\u00a3])(?![a-z])"
)
_UNIT_AFTER = re.compile(r"\s{0,2}(?:/|per|an?|for(?: an?)?|x)?\s{0,2}" + _UNIT)
_UNIT_AFTER_SLASH = re.compile(r"\s?(?:/|per)\s?" + _UNIT)
_CODED_AFTER = re.compile(r"\s?(?:roses?|rozes?|donations?|\U0001f339)")
_PRICE_AFTER_CHARS = frozenset("/$\u20ac\u00a3\U0001f339,.")
_CODED_WORDS = frozenset({"roses", "rose", "rozes", "donation", "donations", "gift", "gifts"})
MIN_PRICE, MAX_PRICE = 10.0, 20_000.0

# --- itineraries -----------------------------------------------------------------------------


# --- extractors: each returns (value, start, end) on the text it was given -------------------


def _emails(lowered: str) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    if "@" not in lowered and not _AT_BRACKETED.search(lowered) and not _AT_WEBMAIL.search(lowered):
        return out
    covered = -1
    for anchor in _AT_ANCHOR.finditer(lowered):
        at_start, at_end = anchor.span()
        if at_start < covered:
            continue
        spelled = anchor.group(0) == " at "
        host = (_WEBMAIL_AFTER if spelled else _HOST_AFTER).match(lowered, at_end)
        if host is None and not spelled:
            host = _WEBMAIL_AFTER.match(lowered, at_end)
        if host is None:
            continue
        local = _LOCAL_BEFORE.search(lowered, max(0, at_start - 66), at_start)
        if local is None:
            continue
        if host.re is _WEBMAIL_AFTER:
            domain = [host.group("domain"), host.group("tld") or "com"]
        else:
            domain = [p.strip() for p in _DOT_SPLIT.split(host.group("domain"))] + [
                host.group("tld")
            ]
        name = local.group(0).strip().strip(".")
        if name and all(domain) and name not in _PRONOUNS:
            out.append((f"{name}@{'.'.join(domain)}", local.start(), host.end()))
            covered = host.end()
    return out


def _handles(
    lowered: str, platform_hits: list[tuple[int, str]] | None = None
) -> list[tuple[str, int, int]]:
    """Handles; `platform_hits` are `_platform_automaton().iter(" " + lowered)` when known."""
    out: list[tuple[str, int, int]] = []
    n = len(lowered)
    if platform_hits is None:
        platform_hits = list(_platform_automaton().iter(" " + lowered))
    for end_index, alias in platform_hits:
        start, end = end_index - len(alias), end_index  # offsets into lowered
        if alias[0].isalnum() and end < n and lowered[end].isalnum():
            continue
        m = _HANDLE_AFTER.match(lowered, end)
        if m is None:
            continue
        handle = m.group("handle").rstrip(".-")
        if alias in _NEEDS_SEPARATOR and not m.group("sep").strip() and not m.group("idword"):
            continue
        if handle in _NOT_HANDLES or not any(c.isalpha() for c in handle):
            continue
        out.append((f"{_ALIAS_TO_PLATFORM[alias]}:{handle}", start, m.end()))
    at = lowered.find("@")
    while at != -1:
        if at == 0 or not (lowered[at - 1].isalnum() or lowered[at - 1] in "._%+-"):
            m = _BARE_HANDLE_AFTER.match(lowered, at + 1)
            if m is not None:
                handle = m.group("handle").rstrip(".")
                if handle not in _NOT_HANDLES and not any(s <= at < e for _, s, e in out):
                    out.append((f"unknown:{handle}", at, m.end()))
        at = lowered.find("@", at + 1)
    if "/" in lowered and any(site in lowered for site in _HANDLE_SITES):
        for m in _HANDLE_URL.finditer(lowered):
            platform = _SITE_PLATFORM.get(m.group("site"), m.group("site"))
            out.append((f"{platform}:{m.group('handle').rstrip('.-')}", m.start(), m.end()))
    return out


def _urls(
    norm: Normalised, lowered: str, email_spans: list[tuple[int, int]]
) -> list[tuple[str, int, int]]:
    if "." not in lowered:
        return []
    spans: list[tuple[int, int]] = []
    if "http" in lowered or "www." in lowered:
        spans += [m.span() for m in _URL_SCHEME.finditer(lowered)]
    scheme_spans = spans[:]
    k = 0
    for m in _TLD_ANCHOR.finditer(lowered):
        while k < len(scheme_spans) and scheme_spans[k][1] <= m.start():
            k += 1
        if k < len(scheme_spans) and scheme_spans[k][0] <= m.start():
            continue
        host = _HOST_BEFORE.search(lowered, max(0, m.start() - 80), m.start())
        if host is None:
            continue
        path = _PATH_AFTER.match(lowered, m.end())
        spans.append((host.start(), path.end() if path else m.end()))
    emails = sorted(email_spans)
    out: list[tuple[str, int, int]] = []
    k = 0
    for start, end in sorted(set(spans)):
        while k < len(emails) and emails[k][1] <= start:
            k += 1
        if k < len(emails) and emails[k][0] <= start:
            continue
        while end > start and lowered[end - 1] in _URL_TRAILING:
            end -= 1
        value = norm.text[start:end]
        if "." in value and (not out or start >= out[-1][2]):
            out.append((value, start, end))
    return out


def _char_before(text: str, start: int, skip: str = " :=-") -> str:
    """The nearest character before `start` that is not in `skip` (looking 4 back at most)."""
    pos = start - 1
    while pos >= 0 and start - pos <= 4 and text[pos] in skip:
        pos -= 1
    return text[pos] if pos >= 0 else ""


def _char_after(text: str, end: int) -> str:
    pos = end
    while pos < len(text) and pos - end < 2 and text[pos] == " ":
        pos += 1
    return text[pos] if pos < len(text) else ""


def _ages(text: str, runs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    out = []
    for start, end in runs:
        if end - start != 2 or text[start] == "0":
            continue
        after_char = _char_after(text, end)
        before_char = _char_before(text, start)
        if not (after_char.isalpha() or before_char.isalpha() or before_char == "'"):
            continue
        age = int(text[start:end])
        if not MIN_AGE <= age <= MAX_AGE:
            continue
        after = _AGE_AFTER.match(text, end)
        if after is not None:
            out.append((age, start, after.end()))
            continue
        before = _age_words_before(text, start)
        if before is None:
            continue
        intro_start, is_i_am = before
        if is_i_am and _NOT_AGE_AFTER.match(text, end):
            continue
        out.append((age, intro_start, end))
    return out


def _words_before(text: str, start: int, count: int, skip: str = " :=-") -> list[tuple[str, int]]:
    return previous_words(text, start, count, skip)


def _age_words_before(text: str, start: int) -> tuple[int, bool] | None:
    """(start of the introducing words, whether they were "I am"), for "age: 19", "I'm 19"."""
    first = previous_word(text, start, " :=-")
    if first is None or not (
        first[0] in _AGE_INTRO or first[0] in _I_AM or first[0] in _AGE_FILLER or first[0] == "am"
    ):
        return None
    words = _words_before(text, start, 4)
    if not words:
        return None
    if words[0][0] in _AGE_INTRO:
        return words[0][1], False
    k = 0
    while k < len(words) - 1 and k < 2 and words[k][0] in _AGE_FILLER:
        k += 1
    word, word_start = words[k]
    if word in _I_AM:
        return word_start, True
    if word == "am" and k + 1 < len(words) and words[k + 1][0] == "i":
        return words[k + 1][1], True
    return None


_UNIT_WORDS = {
    "hh": "hh",
    "qv": "qv",
    "h": "h",
    "hr": "hr",
    "hrs": "hr",
    "hour": "hour",
    "1hr": "hr",
    "1h": "h",
    "half": "half",
    "session": "session",
    "visit": "visit",
}
_UNIT_PAIRS = {
    ("half", "hour"): "half hour",
    ("half", "hr"): "half hour",
    ("1/2", "hr"): "1/2 hr",
    ("1/2", "hour"): "1/2 hr",
    ("30", "min"): "30 min",
    ("30", "mins"): "30 min",
    ("60", "min"): "60 min",
    ("60", "mins"): "60 min",
    ("quick", "visit"): "qv",
    ("1", "hr"): "1hr",
    ("1", "hour"): "1hr",
}
_UNIT_SECOND_WORDS = frozenset(w for _, w in _UNIT_PAIRS)
_PRICE_WORDS_BEFORE = (
    frozenset(_UNIT_WORDS)
    | _UNIT_SECOND_WORDS
    | frozenset({"roses", "rose", "rozes", "donation", "donations", "gift", "gifts"})
)


def _unit_before(text: str, start: int) -> tuple[str, str | None, int] | None:
    """(unit, currency sign, start) when a rate unit introduces the number ("hh 100", "h: $200")."""
    pos = start
    sign = None
    while pos > 0 and start - pos < 2 and text[pos - 1] == " ":
        pos -= 1
    if pos > 0 and text[pos - 1] in _CURRENCY_SIGN:
        sign = text[pos - 1]
        pos -= 1
    word = previous_word(text, pos, " :=-")
    if word is None:
        return None
    unit = _UNIT_WORDS.get(word[0])
    if unit is None and word[0] not in _UNIT_SECOND_WORDS:
        return None
    first = previous_word(text, word[1])
    if first is not None and (first[0], word[0]) in _UNIT_PAIRS:
        return _UNIT_PAIRS[(first[0], word[0])], sign, first[1]
    if unit is None:
        return None
    return unit, sign, word[1]


def _unit(text: str | None) -> str | None:
    if not text:
        return None
    text = text.replace(" ", "")
    if text in ("hh", "half", "halfhour", "halfhr") or text.startswith(("1/2", "30")):
        return "half_hour"
    if text in ("qv", "quickvisit", "session", "visit"):
        return "session"
    return "hour"


def _prices(text: str, runs: list[tuple[int, int]]) -> list[tuple[dict, int, int]]:
    out = []
    n = len(text)
    covered = -1
    for start, end in runs:
        if start < covered or end - start > 5:
            continue
        if text[max(0, start - 2) : start].strip() not in _CURRENCY_SIGN:
            after_char = _char_after(text, end)
            if not (
                after_char in _PRICE_AFTER_CHARS
                or (
                    after_char.isalpha()
                    and (_PRICE_WORD_AFTER.match(text, end) or _UNIT_AFTER_SLASH.match(text, end))
                )
            ):
                word = previous_word(text, start, " :=-$\u20ac\u00a3")
                if word is None or word[0] not in _PRICE_WORDS_BEFORE:
                    continue
        amount_end = end
        # thousands ("1,200") and cents ("12.50")
        while (
            text.startswith(",", amount_end)
            and (group := _DIGIT_RUN.match(text, amount_end + 1)) is not None
            and len(group.group(0)) == 3
        ):
            amount_end += 4
        cents = _DIGIT_RUN.match(text, amount_end + 1) if text.startswith(".", amount_end) else None
        amount_text = text[start:amount_end].replace(",", "")
        if cents is not None and cents.end() - cents.start() == 2:
            amount_text += "." + cents.group(0)
            amount_end = cents.end()
        currency, unit, coded = None, None, False
        span_start, span_end = start, amount_end
        sign = text[start - 1] if start > 0 else ""
        if sign == " " and start > 1:
            sign = text[start - 2]
        if sign in _CURRENCY_SIGN:
            currency = _CURRENCY_SIGN[sign]
            span_start = text.rfind(sign, 0, start)
        word_after = None if currency else _PRICE_WORD_AFTER.match(text, amount_end)
        if word_after is not None:
            w = word_after.group("word")
            if w in _CURRENCY_SIGN:
                currency = _CURRENCY_SIGN[w]
            elif w in _CURRENCY_WORD:
                currency = _CURRENCY_WORD[w]
            else:
                coded = True
            span_end = word_after.end()
        # after a currency or coded word "for an hour" is a unit; after a bare number only "/hr"
        unit_after = _UNIT_AFTER if (currency or coded) else _UNIT_AFTER_SLASH
        unit_match = unit_after.match(text, span_end)
        before = _unit_before(text, span_start)
        if before is not None:
            unit, before_sign, span_start = before
            if before_sign and currency is None:
                currency = _CURRENCY_SIGN[before_sign]
        elif unit_match is not None:
            unit = unit_match.group("unit")
            span_end = unit_match.end()
        if not (currency or coded or unit):
            continue
        if not coded:
            coded_after = _CODED_AFTER.match(text, span_end)
            if coded_after is not None:
                coded, span_end = True, coded_after.end()
            else:
                word_before = previous_word(text, span_start, " :=-")
                coded = word_before is not None and word_before[0] in _CODED_WORDS
        value = float(amount_text)
        if not MIN_PRICE <= value <= MAX_PRICE:
            continue
        covered = min(span_end, n)
        out.append(
            (
                {"amount": value, "currency": currency, "unit": _unit(unit), "coded": coded},
                span_start,
                span_end,
            )
        )
    return out


_ITINERARY_PHRASES = (
    "in town until",
    "in town till",
    "in town thru",
    " until ",
    " till ",
    " thru ",
    "leaving for",
    "leaving to",
    "heading to",
    "heading for",
    "going to",
    "moving on to",
    "off to",
    "traveling to",
    "travelling to",
    "flying to",
    "driving to",
    "next stop",
    "then to",
    "then in",
    "arriving in",
    "arriving at",
    "on my way to",
    "visiting",
    "touring",
    "on tour",
    "tour dates",
    "\u2192",
    "->",
    "=>",
    ">>",
    "llegando a",
    "saliendo para",
    "saliendo a",
    "proxima parada",
)
_SENTENCE_ENDS = ".!?\n"


def _sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    start = max(text.rfind(c, 0, pos) for c in _SENTENCE_ENDS) + 1
    ends = [i for i in (text.find(c, pos) for c in _SENTENCE_ENDS) if i != -1]
    return start, min(ends) if ends else len(text)


def _itinerary(lowered: str, cities: list[tuple[str, int, int]]) -> list[str]:
    """Cities in the order the ad's movement sentences name them ("Reno until Sunday then ...")."""
    if not cities:
        return []
    ordered: list[str] = []
    moving: dict[tuple[int, int], bool] = {}
    for name, start, _end in cities:
        bounds = _sentence_bounds(lowered, start)
        if bounds not in moving:
            sentence = lowered[bounds[0] : bounds[1]]
            moving[bounds] = any(phrase in sentence for phrase in _ITINERARY_PHRASES)
        if moving[bounds] and (not ordered or ordered[-1] != name):
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


def extract_entities(
    title: object, body: object, *, country: object = None, region: object = None
) -> dict:
    """All entities of an ad with evidence; see the module docstring and schemas/scored_ad.v1.json.

    `country` (ISO 3166 alpha-2) is the default region for phone numbers ("US" when None);
    `region` is accepted for the pipeline's convenience and not used yet.
    """
    collectors = {kind: _Collector() for kind in ENTITY_KINDS}
    phone_region = country.upper() if isinstance(country, str) and country else "US"
    ad = analyse_ad(title, body)
    norm, view = ad.norm, ad.view
    lowered = norm.lower
    all_runs = ad.view_runs
    phones = find_phones(view, phone_region, all_runs)
    for match in phones:
        collectors["phones"].add(match.e164, ad.view_evidence(match.start, match.end))
    emails = _emails(lowered)
    for address, start, end in emails:
        collectors["emails"].add(address, ad.evidence(start, end))
    for handle, start, end in _handles(lowered, ad.words.platforms):
        collectors["handles"].add(handle, ad.evidence(start, end))
    for url, start, end in _urls(norm, lowered, [(s, e) for _, s, e in emails]):
        collectors["urls"].add(url, ad.evidence(start, end))
    runs = all_runs
    if phones:
        spans = [(m.start, m.end) for m in phones]
        runs = [r for r in runs if not any(s <= r[0] < e for s, e in spans)]
    if runs:
        for age, start, end in _ages(view.text, runs):
            collectors["ages"].add(age, ad.view_evidence(start, end))
        for price, start, end in _prices(view.text, runs):
            collectors["prices"].add(price, ad.view_evidence(start, end))
    cities = find_cities(norm.text, lowered)
    for name, start, end in cities:
        collectors["locations"].add(name, ad.evidence(start, end))
    result: dict[str, list] = {kind: collectors[kind].as_list() for kind in ENTITY_KINDS}
    result["itinerary"] = _itinerary(lowered, cities)
    result["flags"] = ["truncated"] if ad.truncated else []
    return result


def placeholder_spans(norm: Normalised, view: Normalised) -> list[tuple[int, int, str]]:
    """Sorted (start, end, label) spans on `norm.text` of contacts, for template text."""
    spans: list[tuple[int, int, str]] = []
    for match in find_phones(view, "US"):
        start, end = view.to_parent(match.start, match.end)
        spans.append((start, end, "phone"))
    lowered = norm.lower
    emails = _emails(lowered)
    spans += [(s, e, "email") for _, s, e in emails]
    spans += [(s, e, "handle") for _, s, e in _handles(lowered)]
    spans += [(s, e, "url") for _, s, e in _urls(norm, lowered, [(s, e) for _, s, e in emails])]
    spans.sort()
    return spans
