"""Phone numbers in obfuscated ad text, as E.164, without inventing them from other numbers.

Works on `numbers.numeric_view` (number words and look-alike letters already digits):
1. digit groups joined by short separator runs (spaces, dashes, dots, slashes, underscores,
   asterisks, brackets, emoji ...) or by a separator written as a word ("702 dot 555 dot 0123",
   "punto", "dash", "guion") form a chain; other letters, currency signs, colons and commas
   break it;
2. digits that belong to dates, times, prices, measurements, zip codes or numbers introduced by
   words such as ISBN, VIN, order or invoice are masked out of chains first;
3. within a chain, consecutive groups whose digits add up to a plausible length and whose
   grouping looks like a phone's are parsed with `phonenumbers` (default region from the ad)
   and kept only when valid; the longest valid run from the earliest group wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from detectors.text.normalise import Normalised, normalise
from detectors.text.numbers import digit_runs, numeric_view
from detectors.text.words import previous_word

_GAP_CHARS = (
    r"\s\-,()/_*~\[\]{}<>|\\=\u00b7\u2022$@!;+#&^"
    r"\u2190-\u21ff\u2300-\u23ff\u2500-\u27bf\u2900-\u297f\u2b00-\u2bff\u3030\u303d"
    r"\U0001f000-\U0001faff"
)
# what may join two digit groups of one phone: one to four separator characters ("$ @ ! ; + # &"
# and doubled brackets among them: "305!!555!!0125", "((917))555;0144"); a full stop joins
# only when no space follows it or a space precedes it (so "2024. 702" is two numbers,
# "702.555" and "7-0-2 . 5-5-5" one)
_GAP = re.compile(rf"(?:[{_GAP_CHARS}]|\.(?!\s)|(?<=\s)\.){{1,4}}")
# a separator written as a word between digit groups ("702 dot 555 dot 0123", "punto", "dash",
# "guion"): the whole word with a space on each side, or in brackets ("702(dot)555")
_SEPARATOR_WORDS = "dot|punto|dash|guion"
_WORD_GAP = re.compile(
    rf" {{1,2}}(?:{_SEPARATOR_WORDS}) {{1,2}}| {{0,2}}[(\[](?:{_SEPARATOR_WORDS})[)\]] {{0,2}}"
)
_WORD_GAP_MAX = 12
# "$ @ ! ;" join groups of a phone ("305!!555!!0125") only next to a group of three digits or
# more: between one- and two-digit numbers they are scores and lists ("9;20 36;14")
_SYMBOL_GAP = re.compile(r"[$@!;#&^]")
MIN_DIGITS, MAX_DIGITS = 7, 15

_US_STATES = (
    "al|ak|az|ar|ca|co|ct|de|dc|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|nh|nj|"
    "nm|ny|nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy"
)
# digits that are part of a date or a time (searched within a chain's span)
# (a date's year has two or four digits, so "7/0/2" and "3.1.2", digits split by symbols, are
# no dates; a day/month pair is not one either inside a longer run split by . - + or /)
_DATE_OR_TIME = re.compile(
    r"(?<![0-9])(?:[0-9]{4}([/.\-])[0-9]{1,2}\1[0-9]{1,2}"
    r"|[0-9]{1,2}([/.\-])[0-9]{1,2}\2(?:[0-9]{4}|[0-9]{2}))(?![0-9])"
    r"|(?<![0-9])[0-9]{1,2}(?::[0-9]{2}){1,2}(?![0-9])"
    r"|(?<![0-9/.\-+])[0-9]{1,2}/[0-9]{1,2}(?![0-9/]|[.\-+][0-9])"
)
_CURRENCY = frozenset("$\u20ac\u00a3\u00a5")
# what follows a number that is not a phone: currency, coded prices, units
_UNIT_AFTER = re.compile(
    r"[ ]?(?:[$\u20ac\u00a3\u00a5%]|(?:usd|eur|gbp|mxn|dollars?|bucks|roses?|rozes?|euros?|pesos?|k"
    r"|cm|mm|km|kg|g|lbs?|pounds?|oz|ml|inch(?:es)?|ft|feet|miles?|mi|mph|sq ?ft|sqft|gb|tb|mb|hp"
    r"|cc|px|mp|st|nd|rd|th|am|pm|a\.m|p\.m)(?![a-z]))"
)
_STATES = frozenset(_US_STATES.split("|"))
# words that say what the number after them is
_ID_WORDS = frozenset(
    """
    isbn isbn-10 isbn-13 isbn10 isbn13 vin zip zipcode code postal order invoice ref
    reference serial sku tracking item lot model part acct account case ticket confirmation
    conf mls permit license lic policy claim barcode upc ean iban routing tract flight route
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_ID_FILLERS = frozenset({"no", "num", "number", "nr", "#"})
# ISO 4217 codes written before an amount with thousands commas: "AED 2,800-3,400", "QAR 1,800"
_CURRENCY_CODES = frozenset({
    "aed", "bhd", "kwd", "omr", "qar", "sar", "usd", "eur", "gbp", "cad", "aud", "nzd", "php", "mxn",
    "inr", "brl", "cop", "ron", "pln", "chf", "hkd", "sgd", "myr", "ngn", "kes", "zar",
})
_AMOUNTS = re.compile(r"\d{1,3}(?:,\d{3})+(?:[ ]?[-\u2013][ ]?\d{1,3}(?:,\d{3})+)?(?!\d)")
# letters-and-slash codes a reference number continues ("nea/pea/" before "2025/0417", in the
# lowercased view, where number words such as "seven/0/two" are digits already); two segments
# at least, and none a contact word ("call/text/702 555 0123" is a phone)
_REFERENCE_CODE = re.compile(r"(?:[a-z]{2,6}/){2,}")
_CONTACT_SEGMENTS = frozenset({"call", "text", "txt", "sms", "tel", "phone", "cell", "mob", "mobile",
                               "wa", "whats", "viber", "signal", "imsg", "line", "ph", "fone"})
_NANP_CUTS = (frozenset({0, 3, 6, 10}), frozenset({0, 1, 4, 7, 11}))


@dataclass(frozen=True)
class PhoneMatch:
    """One phone found in a view: E.164 and the span of its digits in that view's text."""

    e164: str
    start: int
    end: int


def _unit_may_follow(text: str, end: int) -> bool:
    """Cheap test before `_UNIT_AFTER.match(text, end)`: what follows (after one optional space)
    must be a currency sign, "%" or a lowercase ASCII letter for that regex to match."""
    if end >= len(text):
        return False
    ch = text[end]
    if ch == " " and end + 1 < len(text):
        ch = text[end + 1]
    return "a" <= ch <= "z" or ch in _CURRENCY or ch == "%"


def _price_sign_before(text: str, start: int) -> bool:
    """Is the number at `start` a price by the currency sign before it ("$150", "$ 150")?

    A sign written between two digit groups without a space ("713$$555$$0106") is a separator."""
    p = start - 1
    if p < 0:
        return False
    if text[p] == " ":
        return p > 0 and text[p - 1] in _CURRENCY
    if text[p] not in _CURRENCY:
        return False
    while p > 0 and text[p - 1] in _CURRENCY:
        p -= 1
    return p == 0 or not text[p - 1].isdigit()


def _sign_starts_next_number(text: str, end: int) -> bool:
    """Is the currency sign after the number ending at `end` the next number's ("0123 $150",
    "555$$0106"), rather than this number's unit ("150$")?"""
    p = end + 1 if end < len(text) and text[end] == " " else end
    if p >= len(text) or text[p] not in _CURRENCY:
        return False
    while p < len(text) and text[p] in _CURRENCY:
        p += 1
    return p < len(text) and text[p].isdigit()


def _masked_groups(text: str, groups: list[tuple[int, int]], nanp: bool = True) -> set[int]:
    """Indices of a chain's digit groups that belong to dates, times, prices, units, zips, ids
    (a state and zip code only in a North American ad: "al 07700" is Spanish in a UK one)."""
    masked: set[int] = set()
    chain_start, chain_end = groups[0][0], groups[-1][1]
    for m in _DATE_OR_TIME.finditer(text, max(0, chain_start - 5), min(len(text), chain_end + 5)):
        masked.update(k for k, (s, e) in enumerate(groups) if s < m.end() and m.start() < e)
    for k, (s, e) in enumerate(groups):
        if (
            _price_sign_before(text, s)
            or _unit_may_follow(text, e)
            and not text[e].isdigit()
            and _UNIT_AFTER.match(text, e)
            and not _sign_starts_next_number(text, e)
        ):
            masked.add(k)
    word = previous_word(text, chain_start, " .:#-,")
    if nanp and word is not None and groups[0][1] - groups[0][0] == 5 and word[0] in _STATES:
        masked.add(0)
    if word is not None and word[0].lower() in _CURRENCY_CODES:
        amounts = _AMOUNTS.match(text, chain_start)
        if amounts:
            masked.update(k for k, (s, e) in enumerate(groups) if e <= amounts.end())
    if (word is not None and word[1] + len(word[0]) == chain_start and _REFERENCE_CODE.fullmatch(word[0])
            and not _CONTACT_SEGMENTS.intersection(word[0].split("/"))):
        # digits inside a slash-joined reference: "Reg. No. NEA/PEA/2025/0417"
        k = 0
        masked.add(0)
        while k + 1 < len(groups) and text[groups[k][1] : groups[k + 1][0]] == "/":
            k += 1
            masked.add(k)
    if word is not None and word[0] in _ID_FILLERS:
        word = previous_word(text, word[1], " .:#-,")
    if word is not None and word[0] in _ID_WORDS:
        k = 0
        masked.add(0)
        while k + 1 < len(groups) and text[groups[k][1] : groups[k + 1][0]] == "-":
            k += 1
            masked.add(k)
    return masked


def clear_cache() -> None:
    """Forget cached parses (benchmarks call this so that repeated passes measure real work)."""
    _parse.cache_clear()


def _shape_ok(sizes: tuple[int, ...], national_nanp: bool) -> bool:
    """Does this grouping of digits look like a phone's?

    North American numbers are written 3-3-4 (after an optional 1): a group of three or more
    digits must start and end on those cuts ("2024 213 555" is a year and a phone, not one
    phone). Groups of one or two digits (spelled or spaced numbers) may fall anywhere. (The
    caller accepts other groupings, "702 5550-123", when the digits are the whole chain.)
    """
    if not national_nanp:
        return max(sizes) <= 5 or len(sizes) <= 3
    cuts = _NANP_CUTS[sum(sizes) == 11]
    pos = 0
    for size in sizes:
        if size >= 3 and (pos not in cuts or pos + size not in cuts):
            return False
        pos += size
    return True


def _other_grouping_ok(sizes: list[int]) -> bool:
    """A grouping other than 3-3-4, for digits that are the whole chain: the area code kept in
    the first group ("702 5550-123", "2065-5501-30") or single digits mixed with two-digit
    groups in four or more ("8 08 55 501 29", "48 0555 01 47"); not "55 1234 5678", a Mexican
    number's grouping."""
    return max(sizes) <= 5 and (sizes[0] >= 3 or min(sizes) == 1 or len(sizes) >= 4)


_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


def _desc_matcher(desc) -> tuple[re.Pattern, frozenset[int]] | None:
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset(n for n in (desc.possible_length or ()) if n > 0)
    return re.compile(desc.national_number_pattern), lengths


@lru_cache(maxsize=64)
def _validators(country_code: int) -> tuple:
    """Per region of a country code: (general pattern, type patterns), as phonenumbers uses them."""
    out = []
    for region in phonenumbers.region_codes_for_country_code(country_code):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        general = _desc_matcher(metadata.general_desc)
        types = [
            m for m in (_desc_matcher(getattr(metadata, name, None)) for name in _TYPE_DESCS) if m
        ]
        if general is not None and types:
            out.append((general, tuple(types)))
    return tuple(out)


def _matches(matcher: tuple[re.Pattern, frozenset[int]], nsn: str) -> bool:
    pattern, lengths = matcher
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


def is_valid_nsn(country_code: int, nsn: str) -> bool:
    """phonenumbers' validity test for a national significant number, without parsing a string.

    A number is valid when some region of its country code matches it by its general pattern
    and by one of its number types (fixed line, mobile, toll free ...), as in
    `phonenumbers.is_valid_number`; precompiled, this is far cheaper than parse + validate.
    """
    for general, types in _validators(country_code):
        if _matches(general, nsn) and any(_matches(t, nsn) for t in types):
            return True
    return False


# numbers reserved for fiction that phonenumbers' metadata calls invalid: Ofcom's drama ranges
# 07700 900000-900999 (mobile), 0115 496 0000-0999 and 01632 960000-960999 (the other drama
# ranges, 020 7946 0xxx among them, are valid in the metadata, as are NANP's 555-01xx and
# ACMA's 0491 570 xxx and 0x 5550 xxxx). Never assigned to anyone, they are what synthetic UK
# ads must use, so a GB test ad reads as an ad with a real number would.
_FICTION_NSN = {44: re.compile(r"7700900[0-9]{3}|1154960[0-9]{3}|1632960[0-9]{3}")}


def is_fiction_nsn(country_code: int, nsn: str) -> bool:
    """Is this national significant number in a range reserved for fiction (see _FICTION_NSN)?"""
    pattern = _FICTION_NSN.get(country_code)
    return pattern is not None and pattern.fullmatch(nsn) is not None


@lru_cache(maxsize=512)
def _country_code(region: str) -> int:
    """`phonenumbers.country_code_for_region`, cached (0 for an unknown region)."""
    return phonenumbers.country_code_for_region(region)


@lru_cache(maxsize=8192)
def _parse(digits: str, region: str, international: bool) -> str | None:
    """E.164 of `digits` read in `region` (or as +digits), or None when not a valid number.

    Cached: a feed repeats its phones (the same contact across many ads), and the answer depends
    on the arguments alone."""
    if not international and _country_code(region) == 1:
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) != 10:
            return None
        return "+1" + digits if is_valid_nsn(1, digits) else None
    if international and digits[0] == "1":
        nsn = digits[1:]
        return "+" + digits if len(nsn) == 10 and is_valid_nsn(1, nsn) else None
    try:
        number = phonenumbers.parse(("+" + digits) if international else digits, region)
    except phonenumbers.NumberParseException:
        return None
    nsn = phonenumbers.national_significant_number(number)
    if number.country_code is None or not (
        is_valid_nsn(number.country_code, nsn) or is_fiction_nsn(number.country_code, nsn)
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phones_in_groups(
    groups: list[tuple[int, int]], text: str, region: str, plus_at: int | None
) -> list[PhoneMatch]:
    found: list[PhoneMatch] = []
    nanp = _country_code(region) == 1
    all_small = max(e - s for s, e in groups) <= 2
    i = 0
    while i < len(groups):
        international = plus_at is not None and i == 0
        best: tuple[int, str] | None = None
        total = 0
        sizes: list[int] = []
        for j in range(i, len(groups)):
            size = groups[j][1] - groups[j][0]
            total += size
            sizes.append(size)
            if total > MAX_DIGITS:
                break
            if total < MIN_DIGITS:
                continue
            digits = "".join(text[s:e] for s, e in groups[i : j + 1])
            national_nanp = nanp and not international
            if national_nanp and not (total == 10 or (total == 11 and digits[0] == "1")):
                continue
            if national_nanp and all_small and (i > 0 or j < len(groups) - 1):
                continue  # part of a longer run of one- and two-digit numbers: a list, a draw
            if not _shape_ok(tuple(sizes), national_nanp) and not (
                i == 0 and j == len(groups) - 1 and _other_grouping_ok(sizes)
            ):
                continue
            e164 = _parse(digits, region, international)
            if e164 is not None:
                best = (j, e164)
        if best is None:
            i += 1
            continue
        j, e164 = best
        start = plus_at if (international and plus_at is not None) else groups[i][0]
        if start > 0 and text[start - 1] == "(":
            start -= 1
        found.append(PhoneMatch(e164, start, groups[j][1]))
        i = j + 1
    return found


def _chains(text: str, runs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Digit groups joined by short separator runs, for chains with enough digits."""
    chains: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    digits = 0
    prev_end = -10
    for start, end in runs:
        gap = start - prev_end
        if current and (
            (gap <= 4 and _GAP.fullmatch(text, prev_end, start)
             and (not _SYMBOL_GAP.search(text, prev_end, start)
                  or max(end - start, current[-1][1] - current[-1][0]) >= 3))
            or (5 <= gap <= _WORD_GAP_MAX and _WORD_GAP.fullmatch(text, prev_end, start))
        ):
            current.append((start, end))
            digits += end - start
        else:
            if digits >= MIN_DIGITS:
                chains.append(current)
            current = [(start, end)]
            digits = end - start
        prev_end = end
    if digits >= MIN_DIGITS:
        chains.append(current)
    return chains


def find_phones(
    view: Normalised, region: str | None = "US", runs: list[tuple[int, int]] | None = None
) -> list[PhoneMatch]:
    """Phones in a `numeric_view`, in order of appearance (duplicates kept, with their spans).

    `runs` are the view's digit runs when the caller has them already (see `digit_runs`)."""
    region = (region or "US").upper()
    if _country_code(region) == 0:
        region = "US"
    text = view.text
    nanp = _country_code(region) == 1
    found: list[PhoneMatch] = []
    for groups in _chains(text, digit_runs(text) if runs is None else runs):
        masked = _masked_groups(text, groups, nanp)
        run: list[tuple[int, int]] = []
        for k, group in enumerate(groups + [(-1, -1)]):
            if k < len(groups) and k not in masked:
                run.append(group)
                continue
            if sum(e - s for s, e in run) >= MIN_DIGITS:
                start = run[0][0]
                plus_at = None
                if text[max(0, start - 1) : start] == "+":
                    plus_at = start - 1
                elif text[max(0, start - 2) : start] == "+ ":
                    plus_at = start - 2
                found.extend(_phones_in_groups(run, text, region, plus_at))
            run = []
    return found


def extract_phones(text: str, region: str | None = "US") -> list[tuple[str, int, int]]:
    """(E.164, start, end) for every phone in `text`, offsets into `text` itself."""
    view = numeric_view(normalise(text))
    out = []
    for match in find_phones(view, region):
        start, end = view.span(match.start, match.end)
        out.append((match.e164, start, end))
    return out
