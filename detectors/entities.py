"""Entities with spans (minimal): phones, emails, handles, urls, ages, prices, locations."""

from __future__ import annotations

import re

import phonenumbers

from detectors.text import normalise

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\bhttps?://[^\s<>\"]+|\bwww\.[^\s<>\"]+")
_HANDLE = re.compile(
    r"\b(snap(?:chat)?|sc|insta(?:gram)?|ig|telegram|tg|whats ?app|wa|kik)\s*[:@\-]?\s*@?([a-z0-9_.]{3,30})",
    re.IGNORECASE,
)
_PLATFORM = {"snap": "snapchat", "snapchat": "snapchat", "sc": "snapchat", "insta": "instagram",
             "instagram": "instagram", "ig": "instagram", "telegram": "telegram", "tg": "telegram",
             "whatsapp": "whatsapp", "whats app": "whatsapp", "wa": "whatsapp", "kik": "kik"}
_AGE = re.compile(r"\b(?:age\s*[:\-]?\s*(\d{2})|(\d{2})\s*(?:yo|y/o|yrs?\s*old|years\s*old))\b",
                  re.IGNORECASE)
_PRICE = re.compile(r"\$\s?(\d{2,4})(?:\s*(?:/|per)\s*(hr|hour|hh|half\s*hour))?", re.IGNORECASE)


def _evidence(field: str, start: int, end: int, text: str) -> dict:
    return {"field": field, "start": start, "end": end, "text": text[start:end]}


def extract_entities(title: str, body: str, *, country: str | None = None,
                     region: str | None = None) -> dict:
    out: dict[str, list] = {k: [] for k in ("phones", "emails", "handles", "urls", "ages",
                                             "prices", "locations", "itinerary", "flags")}
    seen: dict[str, set] = {k: set() for k in out}

    def add(kind: str, value, ev: dict) -> None:
        key = repr(value)
        if key in seen[kind]:
            return
        seen[kind].add(key)
        out[kind].append({"value": value, "evidence": [ev]})

    for field, raw in (("title", title or ""), ("body", body or "")):
        norm = normalise(raw)
        if norm.truncated:
            out["flags"].append("truncated")
        text = raw if norm.text == raw else raw  # offsets index the original text
        for m in phonenumbers.PhoneNumberMatcher(text, country or "US"):
            add("phones", phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164),
                _evidence(field, m.start, m.end, text))
        for m in _EMAIL.finditer(text):
            add("emails", m.group(0).lower(), _evidence(field, m.start(), m.end(), text))
        for m in _URL.finditer(text):
            add("urls", m.group(0), _evidence(field, m.start(), m.end(), text))
        for m in _HANDLE.finditer(text):
            platform = _PLATFORM.get(m.group(1).lower(), m.group(1).lower())
            add("handles", f"{platform}:{m.group(2).lower()}", _evidence(field, m.start(), m.end(), text))
        for m in _AGE.finditer(text):
            age = int(m.group(1) or m.group(2))
            if 16 <= age <= 70:
                add("ages", age, _evidence(field, m.start(), m.end(), text))
        for m in _PRICE.finditer(text):
            unit = (m.group(2) or "").lower()
            unit = "half_hour" if unit.startswith(("hh", "half")) else ("hour" if unit else None)
            add("prices", {"amount": float(m.group(1)), "currency": "USD", "unit": unit, "coded": False},
                _evidence(field, m.start(), m.end(), text))
    return out
