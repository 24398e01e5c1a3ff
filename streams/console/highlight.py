"""Evidence spans → highlighted, labelled HTML (no I/O).

A scored ad's evidence indexes its original `title` and `body` (Python str offsets). Spans may
overlap ("Many girls" and "girls available"), so the text is cut at every span boundary and
each piece is marked with every span covering it; a label follows the last piece of each span.
Everything from the ad is escaped: the result is safe to put in a page as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

ENTITY_TYPES = ("phones", "emails", "handles", "urls", "ages", "prices", "locations")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str  # what the reader sees: "phone +17025550123", "youth_coded"
    kind: str  # CSS family: entity or indicator category


def evidence_spans(record: dict, field: str, text: str) -> tuple[list[Span], int]:
    """The spans of entities and indicators in one field; (spans, how many were dropped because
    their offsets do not fit the text)."""
    spans: list[Span] = []
    dropped = 0

    def take(evidence, label: str, kind: str) -> None:
        nonlocal dropped
        for ev in evidence or []:
            if not isinstance(ev, dict) or ev.get("field") != field:
                continue
            start, end = ev.get("start"), ev.get("end")
            if (not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text)
                    or ("text" in ev and text[start:end] != ev["text"])):
                dropped += 1
                continue
            spans.append(Span(start, end, label, kind))

    for name in ENTITY_TYPES:
        for entity in (record.get("entity_evidence") or {}).get(name) or []:
            if isinstance(entity, dict):
                value = entity.get("value")
                shown = value.get("amount") if isinstance(value, dict) else value
                take(entity.get("evidence"), f"{name.rstrip('s')} {shown}", f"entity-{name}")
    for indicator in record.get("indicators") or []:
        if isinstance(indicator, dict):
            take(indicator.get("evidence"), str(indicator.get("id")), f"indicator-{indicator.get('category')}")
    unique = sorted(set(spans), key=lambda s: (s.start, -s.end, s.label))
    return unique, dropped


def _css(kind: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "_" for c in kind)


def highlight(text: str, spans: list[Span]) -> Markup:
    """`text` as HTML with every span in <mark> elements (data-labels lists the spans covering
    a piece) and each span's label in a <span class="ev-label"> after its last piece."""
    if not spans:
        return Markup(escape(text))
    cuts = sorted({0, len(text)} | {s.start for s in spans} | {s.end for s in spans})
    out: list[str] = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        piece = escape(text[left:right])
        covering = [s for s in spans if s.start <= left and right <= s.end]
        if not covering:
            out.append(piece)
            continue
        labels = "; ".join(s.label for s in covering)
        kinds = " ".join(sorted({f"ev-{_css(s.kind)}" for s in covering}))
        out.append(f'<mark class="ev {kinds}" title="{escape(labels)}" data-labels="{escape(labels)}">{piece}</mark>')
        for s in covering:
            if s.end == right:
                out.append(f'<span class="ev-label ev-{_css(s.kind)}">{escape(s.label)}</span>')
    return Markup("".join(out))


def highlighted_fields(record: dict, title: str, body: str) -> dict:
    """Title and body highlighted, with the spans shown and the number dropped."""
    out = {}
    for name, text in (("title", title), ("body", body)):
        spans, dropped = evidence_spans(record, name, text)
        out[name] = {"html": highlight(text, spans), "spans": spans, "dropped": dropped}
    return out
