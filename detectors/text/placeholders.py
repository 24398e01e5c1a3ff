"""An ad's template text: its words with contacts and numbers replaced by placeholders.

Ads posted from one template under different contacts share their template text, which the
linking layer compares (MinHash, `detectors/linking/templates.py`).
"""

from __future__ import annotations

import re

from detectors.text.adtext import analyse_ad
from detectors.text.contacts import find_emails, find_handles, find_urls
from detectors.text.normalise import Normalised
from detectors.text.phones import find_phones

_SPACES = re.compile(r"\s+")
_DIGIT_RUN = re.compile(r"[0-9]+(?:[.,][0-9]+)*")


def template_text(title: object, body: object, country: object = None) -> str:
    """Normalised, lowercased title and body with contacts and numbers replaced by placeholders.

    Phones become <phone>, emails <email>, handles <handle>, URLs <url> and any other number
    <num>, so ads posted from one template under different contacts share their words. Phones
    are read with the ad's `country` (ISO 3166 alpha-2) as the default region, US when None.
    """
    ad = analyse_ad(title, body)
    lowered = ad.norm.lower
    pieces = []
    pos = 0
    region = country.upper() if isinstance(country, str) and country else "US"
    for start, end, label in placeholder_spans(ad.norm, ad.view, region):
        if start < pos:
            continue
        pieces.append(lowered[pos:start])
        pieces.append(f" <{label}> ")
        pos = end
    pieces.append(lowered[pos:])
    text = _DIGIT_RUN.sub(" <num> ", "".join(pieces))
    return _SPACES.sub(" ", text).strip()



def placeholder_spans(
    norm: Normalised, view: Normalised, region: str = "US"
) -> list[tuple[int, int, str]]:
    """Sorted (start, end, label) spans on `norm.text` of contacts, for template text; phones
    read with `region` as the default region."""
    spans: list[tuple[int, int, str]] = []
    for match in find_phones(view, region):
        start, end = view.to_parent(match.start, match.end)
        spans.append((start, end, "phone"))
    lowered = norm.lower
    emails = find_emails(lowered)
    spans += [(s, e, "email") for _, s, e in emails]
    spans += [(s, e, "handle") for _, s, e in find_handles(lowered)]
    spans += [(s, e, "url") for _, s, e in find_urls(norm, lowered, [(s, e) for _, s, e in emails])]
    spans.sort()
    return spans
