"""Indicator lexicon matching (minimal): compiled alternations over lexicon.yaml."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import yaml


@cache
def _lexicon() -> list[tuple[dict, re.Pattern]]:
    data = yaml.safe_load(resources.files("detectors").joinpath("lexicon.yaml").read_text("utf-8"))
    out = []
    for ind in data["indicators"]:
        parts = [re.escape(p) for p in ind.get("phrases", [])] + list(ind.get("regexes", []))
        parts += [re.escape(e) for e in ind.get("emoji", [])]
        out.append((ind, re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)))
    return out


def match_indicators(title: str, body: str) -> list[dict]:
    found = []
    for ind, pattern in _lexicon():
        evidence = []
        for field, text in (("title", title or ""), ("body", body or "")):
            for m in pattern.finditer(text):
                evidence.append({"field": field, "start": m.start(), "end": m.end(), "text": m.group(0)})
        if evidence:
            found.append({"id": ind["id"], "category": ind["category"], "weight": ind["weight"],
                          "evidence": evidence[:5]})
    return found
