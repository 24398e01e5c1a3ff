"""One ad through enrich → link → score: the logic the stream and the batch path share.

`AdPipeline.process(ad)` takes a validated raw ad and returns the scored-ad record
(schemas/scored_ad.v1.json). Its state (link store, template index, banks, model) is injected,
so `vigil score` runs it in memory and `vigil worker` runs it on Redis-backed state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from detectors.images.hashing import analyse_ad_images
from detectors.linking.links import LinkFeatures, LinkStore, Observation, link_ad, link_ads
from detectors.linking.templates import TemplateIndex
from detectors.scoring.scorer import score_ad, should_alert
from detectors.text.entities import extract_entities
from detectors.text.indicators import LAYERS as INDICATOR_LAYERS
from detectors.text.indicators import match_indicators
from detectors.text.placeholders import template_text
from detectors.validation import parse_date_time

ENTITY_TYPES = ("phones", "emails", "handles", "urls", "ages", "prices", "locations")


def posted_ts(ad: dict) -> float:
    """The ad's posted_at as Unix seconds (naive times are taken as UTC); validation has
    checked it with the same function."""
    return parse_date_time(ad["posted_at"])


def _dedupe(values) -> list:
    out, seen = [], set()
    for v in values:
        key = repr(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


@dataclass
class Prepared:
    """An ad enriched, with what linking needs from it (`AdPipeline.prepare`)."""

    ad: dict
    enriched: dict
    phones: list[str]
    photo_keys: list[str]
    ts: float
    template_text: str

    def observation(self, template_id: str | None) -> Observation:
        entities, location = self.enriched["entities"], self.ad.get("location") or {}
        return Observation(
            ad_id=self.ad["ad_id"],
            ts=self.ts,
            city=(location.get("city") or None),
            region=(location.get("region") or None),
            ages=tuple(sorted({a["value"] for a in entities.get("ages", [])})),
            phones=tuple(self.phones),
            emails=tuple(_dedupe(e["value"] for e in entities.get("emails", []))),
            handles=tuple(_dedupe(h["value"] for h in entities.get("handles", []))),
            photos=tuple(self.photo_keys),
            template_id=template_id,
        )


@dataclass
class AdPipeline:
    """Enrich, link and score ads against injected state."""

    link_store: LinkStore
    templates: TemplateIndex
    fetch: Callable[[dict], bytes] | None = None
    banks: object | None = None  # detectors.images.banks.BankSet, refreshed by the shell
    model: object | None = None  # detectors.scoring.model.TextModel
    disabled_families: frozenset[str] = frozenset()
    photo_key: Callable[[dict], str | None] | None = None
    scoring_config: dict | None = None  # scoring_config_for(model's metadata); None: scoring.yaml

    def enrich(self, ad: dict, timings: dict[str, float] | None = None) -> dict:
        """Text and image enrichment (no state touched). `timings`, when given, receives the
        seconds spent per stage ("text", "images")."""
        started = time.perf_counter()
        location = ad.get("location") or {}
        entities = extract_entities(
            ad.get("title", ""), ad.get("body", ""),
            country=location.get("country"), region=location.get("region"),
        )
        # phones supplied by the source are trusted entities too
        extra_phones = []
        if ad.get("phones"):
            supplied = extract_entities("", " ; ".join(ad["phones"]), country=location.get("country"))
            extra_phones = supplied.get("phones", [])
        indicators = []
        if "text" not in self.disabled_families:
            layers = tuple(layer for layer in INDICATOR_LAYERS if layer not in self.disabled_families)
            indicators = match_indicators(ad.get("title", ""), ad.get("body", ""), layers=layers)
        text_done = time.perf_counter()
        images = {"images": [], "errors": [], "matches": []}
        if ad.get("images"):
            images = analyse_ad_images(ad["images"], fetch=self.fetch, banks=self.banks)
        if timings is not None:
            timings.update(text=text_done - started, images=time.perf_counter() - text_done)
        return {
            "entities": entities,
            "extra_phones": extra_phones,
            "indicators": indicators,
            "images": images,
        }

    def process(self, ad: dict, *, ingested_at: float | None = None,
                timings: dict[str, float] | None = None) -> dict:
        """The scored-ad record; `timings`, when given, receives seconds per stage (text, images,
        link, score)."""
        prepared = self.prepare(ad, timings)
        link_started = time.perf_counter()
        template_id = self.templates.assign(ad["ad_id"], prepared.template_text)
        link = link_ad(self.link_store, prepared.observation(template_id))
        if timings is not None:
            timings["link"] = time.perf_counter() - link_started
        return self.finish(prepared, link, ingested_at=ingested_at, timings=timings)

    def process_many(self, ads: list[dict], *, ingested_at: list[float | None] | None = None,
                     timings: list[dict[str, float]] | None = None) -> list[dict | Exception]:
        """`process` for each ad in order, with one call to the template index and one to the
        link store for all of them (the stream's Redis round trips per batch, not per ad).
        An ad whose enrichment or scoring raised gets its exception in its place (it is left
        out of the link state if enrichment raised); the others go on. The link stage's time
        is shared out evenly among the ads."""
        timings = timings if timings is not None else [{} for _ in ads]
        ingested = ingested_at if ingested_at is not None else [None] * len(ads)
        out: list[dict | Exception] = list(ads)  # every slot is replaced below
        prepared: list[tuple[int, Prepared]] = []
        for i, ad in enumerate(ads):
            try:
                prepared.append((i, self.prepare(ad, timings[i])))
            except Exception as exc:  # noqa: BLE001 - one ad's failure never stops the batch
                out[i] = exc
        link_started = time.perf_counter()
        template_ids = self.templates.assign_many([(p.ad["ad_id"], p.template_text) for _, p in prepared])
        links = link_ads(self.link_store, [p.observation(t) for (_, p), t in zip(prepared, template_ids,
                                                                                 strict=True)])
        link_s = (time.perf_counter() - link_started) / max(1, len(prepared))
        for (i, p), link in zip(prepared, links, strict=True):
            timings[i]["link"] = link_s
            try:
                out[i] = self.finish(p, link, ingested_at=ingested[i], timings=timings[i])
            except Exception as exc:  # noqa: BLE001
                out[i] = exc
        return out

    def prepare(self, ad: dict, timings: dict[str, float] | None = None) -> Prepared:
        """Enrichment and what linking needs from the ad (no state touched)."""
        enriched = self.enrich(ad, timings)
        entities = enriched["entities"]
        phones = _dedupe([p["value"] for p in entities.get("phones", []) + enriched["extra_phones"]])
        location = ad.get("location") or {}
        photo_keys = []
        if self.photo_key:
            photo_keys = _dedupe(k for k in map(self.photo_key, enriched["images"]["images"]) if k)
        return Prepared(
            ad=ad, enriched=enriched, phones=phones, photo_keys=photo_keys, ts=posted_ts(ad),
            template_text=template_text(ad.get("title", ""), ad.get("body", ""), location.get("country")))

    def finish(self, prepared: Prepared, link: LinkFeatures, *, ingested_at: float | None = None,
               timings: dict[str, float] | None = None) -> dict:
        """Model and score on the linked ad: the scored-ad record."""
        ad, enriched = prepared.ad, prepared.enriched
        entities, location, phones = enriched["entities"], ad.get("location") or {}, prepared.phones
        score_started = time.perf_counter()
        probability, model_words = None, []
        if self.model is not None and "model" not in self.disabled_families:
            probability, model_words = self.model.explain_one(ad.get("title", ""), ad.get("body", ""),
                                                              enriched["indicators"])
        score = score_ad(
            indicators=enriched["indicators"],
            model_probability=probability,
            model_words=model_words,
            link=link,
            bank_matches=enriched["images"]["matches"],
            disabled_families=self.disabled_families,
            config=self.scoring_config,
        )
        if timings is not None:
            timings["score"] = time.perf_counter() - score_started
        entity_values = {name: [e["value"] for e in entities.get(name, [])] for name in ENTITY_TYPES}
        entity_values["phones"] = phones
        entity_values["itinerary"] = list(entities.get("itinerary", []))
        return {
            "schema_version": 1,
            "ad_id": ad["ad_id"],
            "source": ad.get("source"),
            "url": ad.get("url"),
            "posted_at": ad.get("posted_at"),
            "location": location,
            # the text the evidence offsets index: the store and console show it highlighted
            "title": ad.get("title", ""),
            "body": ad.get("body", ""),
            "entities": entity_values,
            "entity_evidence": {name: entities.get(name, []) for name in ENTITY_TYPES},
            "indicators": enriched["indicators"],
            "images": enriched["images"]["images"],
            "image_errors": enriched["images"]["errors"],
            "image_matches": enriched["images"]["matches"],
            "link": link.as_record(),
            "cluster": link.cluster.as_record(),
            "model_probability": probability,
            "risk": score.risk,
            "severity": score.severity,
            "alert": should_alert(score.severity),
            "reasons": [r.as_record() for r in score.reasons],
            "flags": list(entities.get("flags", [])),
            "ingested_at": ingested_at,
            "scored_at": time.time(),
        }
