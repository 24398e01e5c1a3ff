"""Prices and rates: "$150/hr", "200 roses", "hh 100", "150 half hour", "300 euros".

`find_prices(view_text, runs)` reads digit runs of the numeric view with a currency sign or
word, a coded unit (roses, donations) or a rate unit next to them, and returns
{amount, currency, unit, coded}.
"""

from __future__ import annotations

import re

from detectors.text.words import char_after, previous_word

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
_DIGIT_RUN = re.compile(r"[0-9]+")
_CODED_WORDS = frozenset({"roses", "rose", "rozes", "donation", "donations", "gift", "gifts"})
MIN_PRICE, MAX_PRICE = 10.0, 20_000.0


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


def find_prices(text: str, runs: list[tuple[int, int]]) -> list[tuple[dict, int, int]]:
    out = []
    n = len(text)
    covered = -1
    for start, end in runs:
        if start < covered or end - start > 5:
            continue
        if text[max(0, start - 2) : start].strip() not in _CURRENCY_SIGN:
            after_char = char_after(text, end)
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

