"""Phone numbers in obfuscated ad text, as E.164, without inventing them from other numbers.

Works on `text.numeric_view` (number words and look-alike letters already digits):
1. digit groups joined by short separator runs (spaces, dashes, dots, slashes, underscores,
   asterisks, brackets, emoji ...) form a chain; letters, currency signs, colons and commas
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

import phonenumbers

from detectors.text import Normalised, normalise, numeric_view

_GAP_CHARS = (
    r"\s\-.()/_*~\[\]{}<>|\\=\u00b7\u2022"
    r"\u2190-\u21ff\u2300-\u23ff\u2500-\u27bf\u2900-\u297f\u2b00-\u2bff\u3030\u303d"
    r"\U0001f000-\U0001faff"
)
_CHAIN = re.compile(
    rf"(?<![0-9])(?:\+[ ]?)?[0-9]{{1,15}}(?![0-9])(?:[{_GAP_CHARS}]{{1,4}}[0-9]{{1,15}}(?![0-9])){{0,40}}"
)
_GROUP = re.compile(r"[0-9]+")

_US_STATES = (
    "al|ak|az|ar|ca|co|ct|de|dc|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|nh|nj|"
    "nm|ny|nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy"
)
_NOT_PHONE = re.compile(
    "|".join(
        [
            # dates: 12/25/2024, 2024-03-15, 15.03.24
            r"(?<![0-9])[0-9]{1,4}([/.\-])[0-9]{1,2}\1[0-9]{1,4}(?![0-9])",
            # times: 10:30, 10:30:15
            r"(?<![0-9])[0-9]{1,2}(?::[0-9]{2}){1,2}(?![0-9])",
            # money: $150, 150$, 150 usd / roses / dollars
            r"[$\u20ac\u00a3\u00a5][ ]?[0-9][0-9,.]{0,12}",
            r"(?<![0-9])[0-9][0-9,.]{0,12}[ ]?(?:[$\u20ac\u00a3\u00a5]|usd|eur|gbp|mxn|dollars?|bucks|roses?"
            r"|rozes?|euros?|pesos?|k\b)",
            # measurements
            r"(?<![0-9])[0-9][0-9,.]{0,8}[ ]?(?:cm|mm|km|kg|g|lbs?|pounds?|oz|ml|inch(?:es)?|ft|feet|"
            r"miles?|mi|mph|sq ?ft|sqft|gb|tb|mb|hp|cc|px|mp|%)(?![a-z])",
            # zip codes after a state ("NV 89109", "nv, 89109-1234")
            rf"(?<![a-z])(?:{_US_STATES})[ ,]{{1,2}}[0-9]{{5}}(?:-[0-9]{{4}})?(?![0-9])",
            # numbers introduced by what they are
            r"(?<![a-z])(?:isbn(?:-1[03])?|vin|zip(?: ?code)?|postal code|order|invoice|ref|reference"
            r"|serial|sku|tracking|item|lot|model|part|acct|account|case|ticket|confirmation|conf"
            r"|mls|permit|license|lic|policy|claim|barcode|upc|ean|iban|routing)"
            r"(?:[ ]?(?:no|num|number|#))?[ .:#\-]{0,4}[0-9x][0-9x\- ]{0,30}[0-9x]",
        ]
    )
)

_NANP_SHAPES = {(10,), (11,), (3, 7), (1, 10), (1, 3, 7), (6, 4), (3, 3, 4), (1, 3, 3, 4)}


@dataclass(frozen=True)
class PhoneMatch:
    """One phone found in a view: E.164 and the span of its digits in that view's text."""

    e164: str
    start: int
    end: int


def _masked(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _NOT_PHONE.finditer(text)]


def _shape_ok(sizes: tuple[int, ...], national_nanp: bool) -> bool:
    if max(sizes) <= 4:
        return True
    if national_nanp:
        return sizes in _NANP_SHAPES
    return max(sizes) <= 5 or len(sizes) <= 3


def _parse(digits: str, region: str, international: bool) -> str | None:
    try:
        number = phonenumbers.parse(("+" + digits) if international else digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phones_in_groups(
    groups: list[tuple[int, int]], text: str, region: str, plus_at: int | None
) -> list[PhoneMatch]:
    found: list[PhoneMatch] = []
    nanp = phonenumbers.country_code_for_region(region) == 1
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
            if total > 15:
                break
            if total < 7:
                continue
            digits = "".join(text[s:e] for s, e in groups[i : j + 1])
            national_nanp = nanp and not international
            if national_nanp and not (total == 10 or (total == 11 and digits[0] == "1")):
                continue
            if not _shape_ok(tuple(sizes), national_nanp):
                continue
            e164 = _parse(digits, region, international)
            if e164 is not None:
                best = (j, e164)
        if best is None:
            i += 1
            continue
        j, e164 = best
        start = plus_at if (international and plus_at is not None) else groups[i][0]
        found.append(PhoneMatch(e164, start, groups[j][1]))
        i = j + 1
    return found


def find_phones(view: Normalised, region: str | None = "US") -> list[PhoneMatch]:
    """Phones in a `numeric_view`, in order of appearance (duplicates kept, with their spans)."""
    region = (region or "US").upper()
    if phonenumbers.country_code_for_region(region) == 0:
        region = "US"
    text = view.text
    masks = None
    found: list[PhoneMatch] = []
    for chain in _CHAIN.finditer(text):
        groups = [m.span() for m in _GROUP.finditer(chain.group(0))]
        if sum(e - s for s, e in groups) < 7:
            continue
        if masks is None:
            masks = _masked(text)
        base = chain.start()
        groups = [(s + base, e + base) for s, e in groups]
        plus_at = base if chain.group(0).startswith("+") else None
        # masked groups split the chain
        run: list[tuple[int, int]] = []
        runs: list[list[tuple[int, int]]] = []
        for s, e in groups:
            if any(ms < e and s < me for ms, me in masks):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append((s, e))
        if run:
            runs.append(run)
        for run in runs:
            plus = plus_at if run[0][0] == groups[0][0] else None
            found.extend(_phones_in_groups(run, text, region, plus))
    return found


def extract_phones(text: str, region: str | None = "US") -> list[tuple[str, int, int]]:
    """(E.164, start, end) for every phone in `text`, offsets into `text` itself."""
    view = numeric_view(normalise(text))
    out = []
    for match in find_phones(view, region):
        start, end = view.span(match.start, match.end)
        out.append((match.e164, start, end))
    return out
