"""The scorer: one risk in 0..1 from indicators, the model, linking and bank matches, with reasons.

risk = sigmoid(bias + sum of contributions). Every contribution is a reason carrying its
evidence (text spans, the identifiers and counts behind a link signal, the matched hash).
The text model's contribution is bounded: it lowers the risk by at most `model.max_negative`,
and not at all once the text shows `model.corroborated_categories` independent categories. With a
model loaded, each indicator counts `model.text_weight` of its weight: the model reads the same
findings beside the wording and ranks ads it never saw better than their weights add up to.
Policy floors (`floors`) come last and no model can veto them: a stated minor age next to a
commercial-sex cue is critical, two strong categories are at least medium; a floor that lifts
the risk is a reason like any other (family `policy`), with the evidence that triggered it.
Two broad floors that also count weak categories stand in for the model (`without_model`) and
apply only when no model scored the ad.
Weights, floors and thresholds live in `scoring.yaml`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from detectors.linking.links import LinkFeatures

SEVERITIES = ("none", "low", "medium", "high", "critical")
SIGNAL_FAMILIES = ("text", "model", "link", "images")
FLOOR_MARGIN = 0.01
"""A floor lifts the logit this far above its severity's threshold (so rounding cannot undo it)."""


@cache
def load_scoring_config() -> dict:
    return yaml.safe_load(resources.files("detectors.scoring").joinpath("scoring.yaml").read_text("utf-8"))


def scoring_config_for(model_metadata: dict | None) -> dict:
    """The scoring config for a text model: `model_generated_only` replaces the model settings
    when the model's metadata names no human-written training ads."""
    cfg = load_scoring_config()
    if model_metadata is None or model_metadata.get("independent_ads"):
        return cfg
    return {**cfg, "model": {**cfg["model"], **cfg.get("model_generated_only", {})}}


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Reason:
    code: str
    family: str
    contribution: float
    detail: str
    evidence: list = field(default_factory=list)

    def as_record(self) -> dict:
        return {
            "code": self.code,
            "family": self.family,
            "contribution": round(self.contribution, 4),
            "detail": self.detail,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Score:
    risk: float
    severity: str
    reasons: tuple[Reason, ...]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _ramp(value: int, rule: dict) -> float:
    over = value - rule["threshold"] + 1
    return min(rule["cap"], over * rule["per_unit"]) if over > 0 else 0.0


def text_reasons(indicators: list[dict], cfg: dict, scale: float = 1.0) -> list[Reason]:
    """One reason per indicator category: its strongest indicator counts (times `scale`: less
    than 1 when the text model, which reads the same findings, is loaded)."""
    best: dict[str, dict] = {}
    for ind in indicators:
        cat = ind["category"]
        if cat == "context":
            continue
        if cat not in best or ind["weight"] > best[cat]["weight"]:
            best[cat] = ind
    reasons, total = [], 0.0
    for cat, ind in sorted(best.items(), key=lambda kv: -kv[1]["weight"]):
        contribution = min(ind["weight"] * cfg["logit_per_weight"], cfg["max_total"] - total)
        if contribution <= 0:
            break
        total += contribution
        detail = f"{cat.replace('_', ' ')} indicator '{ind['id']}'"
        if scale != 1.0:
            detail += f" (x{scale:g} beside the text model, which reads it too)"
        reasons.append(
            Reason(
                code=f"indicator:{ind['id']}",
                family="text",
                contribution=contribution * scale,
                detail=detail,
                evidence=ind.get("evidence", [])[:3],
            )
        )
    return reasons


MODEL_WORDS_SHOWN = 3


def model_reason(probability: float | None, cfg: dict, categories: int = 0,
                 words: Sequence = ()) -> list[Reason]:
    """The text model's reason; `categories` is the number of distinct indicator categories
    (with `corroborated_categories` of them the model cannot lower the risk). `words` (the
    ad's word n-grams that moved the model, `ModelWord`s) name, in the detail, the ones that
    moved it the way it contributes."""
    if probability is None:
        return []
    raw = cfg["logit_scale"] * (_logit(probability) - _logit(cfg["prior"]))
    lowest = -cfg.get("max_negative", cfg["max_abs"])
    if categories >= cfg.get("corroborated_categories", 99):
        lowest = 0.0
    contribution = max(lowest, min(cfg["max_abs"], raw))
    if abs(contribution) < 0.05:
        return []
    detail = f"text classifier probability {probability:.2f}"
    shown = [w.text for w in words if (w.weight > 0) == (contribution > 0)][:MODEL_WORDS_SHOWN]
    if shown:
        way = "raised" if contribution > 0 else "lowered"
        detail += f"; the ad's words that {way} it most: " + ", ".join(f'"{w}"' for w in shown)
    return [Reason(code="model:text_classifier", family="model", contribution=contribution,
                   detail=detail)]


def _describe_identifier(kind: str, value: str) -> str:
    return {"tpl": "text template", "photo": "photo"}.get(kind, kind) + (
        f" {value}" if kind in ("phone", "email", "handle") else ""
    )


def link_reasons(link: LinkFeatures | None, cfg: dict) -> list[Reason]:
    if link is None:
        return []
    reasons: list[Reason] = []

    def add(code: str, rule: str, value: int, stat, detail: str) -> None:
        contribution = _ramp(value, cfg[rule])
        if contribution > 0:
            evidence = [{"identifier": stat.key, "count": value}] if stat is not None else []
            if stat is not None and rule.endswith("cities_30d"):
                evidence[0]["cities"] = list(stat.cities)
            reasons.append(Reason(code, "link", contribution, detail, evidence))

    contacts = ("phone", "email", "handle")
    n, st = link.strongest(contacts, lambda s: s.ads["24h"])
    if st:
        add("link:contact_volume", "contact_ads_24h", n, st,
            f"{n} ads in 24 h on {_describe_identifier(st.kind, st.value)}")
    n, st = link.strongest(contacts + ("photo",), lambda s: s.cities_30d)
    if st:
        add("link:circuit", "contact_cities_30d", n, st,
            f"{_describe_identifier(st.kind, st.value)} advertised in {n} cities within 30 days")
    n, st = link.strongest(contacts, lambda s: s.ages)
    if st:
        add("link:several_people", "contact_ages", n, st,
            f"{n} different ages advertised on {_describe_identifier(st.kind, st.value)}")
    n, st = link.strongest(("photo",), lambda s: s.phones_30d)
    if st:
        add("link:photo_reuse", "photo_phones_30d", n, st, f"same photo under {n} phones")
    n, st = link.strongest(("tpl",), lambda s: s.phones_30d)
    if st:
        add("link:template_phones", "template_phones_30d", n, st,
            f"same text template ({st.ads['7d']} ads in 7 d) under {n} phones")
    n, st = link.strongest(("tpl",), lambda s: s.cities_30d)
    if st:
        add("link:template_cities", "template_cities_30d", n, st,
            f"same text template posted in {n} cities within 30 days")
    cluster = link.cluster
    if cluster.size > 1:
        cluster_ev = [{"cluster_id": cluster.cluster_id, "size": cluster.size,
                       "phones": list(cluster.phones)[:10], "cities": list(cluster.cities)[:10]}]
        for code, rule, value, what in (
            ("link:cluster_phones", "cluster_phones", len(cluster.phones), "phones"),
            ("link:cluster_cities", "cluster_cities", len(cluster.cities), "cities"),
            ("link:cluster_size", "cluster_size", cluster.size, "ads"),
        ):
            contribution = _ramp(value, cfg[rule])
            if contribution > 0:
                reasons.append(Reason(code, "link", contribution,
                                      f"linked cluster of {cluster.size} ads spans {value} {what}",
                                      cluster_ev))
    return reasons


def bank_reasons(matches: list[dict], cfg: dict) -> tuple[list[Reason], bool]:
    """Reasons from hash-bank matches, and whether one is a missing-children match."""
    reasons, critical = [], False
    for bank in sorted({m["bank"] for m in matches}):
        hits = [m for m in matches if m["bank"] == bank]
        best = min(hits, key=lambda m: m["distance"])
        evidence = [
            {k: m.get(k) for k in ("entry_id", "case_id", "hash_type", "distance", "image_index",
                                   "image_ref")}
            for m in hits[:5]
        ]
        if bank == "missing_children":
            critical = True
            reasons.append(Reason("bank:missing_children", "images", 10.0,
                                  f"photo matches missing-children case {best.get('case_id')} "
                                  f"({best['hash_type']} distance {best['distance']})", evidence))
        else:
            weight = cfg.get(bank, cfg.get("previously_flagged", 3.0))
            reasons.append(Reason(f"bank:{bank}", "images", weight,
                                  f"photo matches bank '{bank}' entry {best['entry_id']} "
                                  f"({best['hash_type']} distance {best['distance']})", evidence))
    return reasons, critical


def _floor_applies(floor: dict, indicators: list[dict]) -> list[dict]:
    """The indicators that make `floor` apply (empty when it does not)."""
    by_category: dict[str, list[dict]] = {}
    for ind in indicators:
        by_category.setdefault(ind["category"], []).append(ind)
    context = floor.get("requires_indicator")
    if context and not any(ind["id"] == context for ind in indicators):
        return []
    wanted_ids = set(floor.get("indicators") or ())
    if wanted_ids:
        return [ind for ind in indicators if ind["id"] in wanted_ids]
    triggers: list[dict] = []
    for category in floor.get("all_categories") or ():
        if category not in by_category:
            return []
        triggers += by_category[category]
    any_of = floor.get("any_category") or ()
    if any_of:
        hits = [c for c in any_of if c in by_category]
        if not hits:
            return []
        triggers += [ind for c in hits for ind in by_category[c]]
    distinct_ids = floor.get("distinct_indicators")
    if distinct_ids:
        present = {ind["id"]: ind for ind in indicators
                   if ind["id"] in distinct_ids["of"] and ind["weight"] >= distinct_ids.get("min_weight", 0.0)}
        if len(present) < distinct_ids["min"]:
            return []
        triggers += list(present.values())
    distinct = floor.get("distinct_categories")
    if distinct:
        strong = _independent_categories(by_category, distinct["of"], distinct.get("min_weight", 0.0))
        if len(strong) < distinct["min"]:
            return []
        triggers += [max(by_category[c], key=lambda i: i["weight"]) for c in strong]
    return triggers


def _spans(indicators: list[dict]) -> set[tuple[str, int, int]]:
    """The (field, start, end) of every located piece of evidence of `indicators`."""
    return {(ev["field"], ev["start"], ev["end"]) for ind in indicators for ev in ind.get("evidence", ())
            if "field" in ev and "start" in ev and "end" in ev}


def _overlaps(span: tuple[str, int, int], others: set[tuple[str, int, int]]) -> bool:
    """Does `span` share characters of its field with any of `others`?"""
    return any(span[0] == o[0] and span[1] < o[2] and o[1] < span[2] for o in others)


def _independent_categories(by_category: dict[str, list[dict]], wanted: Sequence[str],
                            min_weight: float) -> list[str]:
    """The categories of `wanted` found at `min_weight` or more, each counted only if some of its
    evidence lies outside the evidence of the categories counted before it (those resting on
    more spans first): a category whose every span another category already rests on adds no
    finding of its own (a rose emoji read as a money code, where the same rose is read as a
    coded payment). A category without located evidence counts."""
    found = {c: [i for i in by_category.get(c, ()) if i["weight"] >= min_weight] for c in wanted}
    spans = {c: _spans(found[c]) for c in wanted if found[c]}
    counted: list[str] = []
    claimed: set[tuple[str, int, int]] = set()
    for category in sorted(spans, key=lambda c: (-len(spans[c]), -max(i["weight"] for i in found[c]))):
        if spans[category] and all(_overlaps(span, claimed) for span in spans[category]):
            continue
        counted.append(category)
        claimed |= spans[category]
    return counted


def floor_reasons(indicators: list[dict], logit: float, floors: list[dict], thresholds: dict,
                  model_loaded: bool = False) -> list[Reason]:
    """The policy floors that lift the risk: one reason per floor, highest severity first,
    each contributing what lifts the logit just over its severity's threshold. A floor marked
    `without_model` stands in for the text model and applies only when none scored the ad."""
    reasons: list[Reason] = []
    for floor in sorted(floors, key=lambda f: -severity_rank(f["severity"])):
        if model_loaded and floor.get("without_model"):
            continue
        triggers = _floor_applies(floor, indicators)
        if not triggers:
            continue
        target = _logit(thresholds[floor["severity"]]) + FLOOR_MARGIN
        if logit >= target:
            continue
        evidence = [ev for ind in triggers for ev in ind.get("evidence", [])[:1]][:5]
        reasons.append(Reason(f"floor:{floor['id']}", "policy", target - logit,
                              f"policy floor {floor['severity']}: {floor['reason']}", evidence))
        logit = target
    return reasons


def severity_for(risk: float, thresholds: dict) -> str:
    for sev in ("critical", "high", "medium", "low"):
        if risk >= thresholds[sev]:
            return sev
    return "none"


def score_ad(
    *,
    indicators: list[dict],
    model_probability: float | None,
    link: LinkFeatures | None,
    bank_matches: list[dict],
    disabled_families: frozenset[str] = frozenset(),
    config: dict | None = None,
    model_words: Sequence = (),
) -> Score:
    """Combine every signal family into one risk with reasons (families can be switched off)."""
    cfg = config or load_scoring_config()
    reasons: list[Reason] = []
    text_on = "text" not in disabled_families
    model_on = "model" not in disabled_families and model_probability is not None
    if text_on:
        scale = cfg["model"].get("text_weight", 1.0) if model_on else 1.0
        reasons += text_reasons(indicators, cfg["text"], scale)
    if model_on:
        categories = len({i["category"] for i in indicators}) if text_on else 0
        reasons += model_reason(model_probability, cfg["model"], categories, model_words)
    if "link" not in disabled_families:
        reasons += link_reasons(link, cfg["link"])
    critical = False
    if "images" not in disabled_families:
        bank, critical = bank_reasons(bank_matches, cfg["banks"])
        reasons += bank
    logit = cfg["bias"] + sum(r.contribution for r in reasons)
    if text_on and "policy" not in disabled_families:
        floors = floor_reasons(indicators, logit, cfg.get("floors") or [], cfg["severity"],
                               model_on and not cfg["model"].get("keep_broad_floors", False))
        reasons += floors
        logit += sum(r.contribution for r in floors)
    risk = _sigmoid(logit)
    severity = "critical" if critical else severity_for(risk, cfg["severity"])
    if critical:
        risk = max(risk, cfg["severity"]["critical"])
    reasons.sort(key=lambda r: -r.contribution)
    return Score(risk=round(risk, 6), severity=severity, reasons=tuple(reasons))


def should_alert(severity: str, config: dict | None = None) -> bool:
    cfg = config or load_scoring_config()
    return severity_rank(severity) >= severity_rank(cfg["alert"]["min_severity"])
