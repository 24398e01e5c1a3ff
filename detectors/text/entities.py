"""Entities with evidence spans: phones, emails, handles, URLs, ages, prices, places.

`extract_entities(title, body, country=...)` analyses the ad once (`adtext`), runs every
extractor (`phones`, `contacts`, `ages`, `prices`, `places`) on the de-obfuscated text and
reports each entity with the slice of the user's original text it came from. Values are
de-duplicated across title and body; evidence accumulates.

Speed: the pipeline calls this once per ad, so no extractor scans the whole text with a
general regex. Each looks for cheap anchors first (digit runs, "@", " at ", ".com", platform
names through an Aho-Corasick automaton) and runs small anchored regexes around them.
"""

from __future__ import annotations

from detectors.text.adtext import analyse_ad
from detectors.text.ages import find_ages
from detectors.text.contacts import find_emails, find_handles, find_urls
from detectors.text.phones import find_phones
from detectors.text.places import find_cities, find_itinerary
from detectors.text.prices import find_prices

ENTITY_KINDS = ("phones", "emails", "handles", "urls", "ages", "prices", "locations")
MAX_EVIDENCE_PER_ENTITY = 5


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
    emails = find_emails(lowered)
    for address, start, end in emails:
        collectors["emails"].add(address, ad.evidence(start, end))
    for handle, start, end in find_handles(lowered, ad.words.platforms):
        collectors["handles"].add(handle, ad.evidence(start, end))
    for url, start, end in find_urls(norm, lowered, [(s, e) for _, s, e in emails]):
        collectors["urls"].add(url, ad.evidence(start, end))
    runs = all_runs
    if phones:
        spans = [(m.start, m.end) for m in phones]
        runs = [r for r in runs if not any(s <= r[0] < e for s, e in spans)]
    if runs:
        for age, start, end in find_ages(view.text, runs):
            collectors["ages"].add(age, ad.view_evidence(start, end))
        for price, start, end in find_prices(view.text, runs):
            collectors["prices"].add(price, ad.view_evidence(start, end))
    cities = ad.cities if ad.cities is not None else find_cities(norm.text, lowered)
    ad.cities = cities
    for name, start, end in cities:
        collectors["locations"].add(name, ad.evidence(start, end))
    result: dict[str, list] = {kind: collectors[kind].as_list() for kind in ENTITY_KINDS}
    result["itinerary"] = find_itinerary(lowered, cities)
    result["flags"] = ["truncated"] if ad.truncated else []
    return result

