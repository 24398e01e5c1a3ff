"""Assembles the shared pipeline with its state: in memory (batch) or on Redis (stream)."""

from __future__ import annotations

import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import redis

from detectors.alerts.policy import SUPPRESSION_WINDOW_S, AlertDecision, build_alert, decide
from detectors.linking.links import MemoryLinkStore
from detectors.linking.templates import TemplateIndex, memory_template_index
from detectors.pipeline import AdPipeline
from streams.config import Settings, redis_prefix
from streams.scoring.linkstore import PendingWrites, RedisLinkStore, RedisTemplateStore

log = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(".stack") / "models" / "text_model.skops"


def load_text_model(path: str | os.PathLike | None):
    """The trained text model if its file exists, else None (the scorer then skips it)."""
    candidate = Path(path or os.environ.get("VIGIL_MODEL", DEFAULT_MODEL_PATH))
    if not candidate.exists():
        log.warning("no text model at %s: scoring without it (train one: vigil model train)",
                    candidate)
        return None
    from detectors.scoring.model import load_model

    model = load_model(candidate)
    log.info("text model loaded from %s", candidate)
    return model


def _image_parts(allow_files: bool):
    from detectors.images.hashing import photo_key
    from streams.scoring.fetch import make_fetcher

    return make_fetcher(allow_files=allow_files), photo_key


def _scoring_config(model) -> dict:
    from detectors.scoring.scorer import scoring_config_for

    metadata = getattr(model, "metadata", None) if model is not None else None
    if metadata is not None and not metadata.get("independent_ads"):
        log.warning("the text model learnt from generated ads only: scoring beside it with "
                    "scoring.yaml's model_generated_only settings (train with --independent-dev)")
    return scoring_config_for(metadata)


def batch_pipeline(*, model_path=None, banks=None, disabled_families=frozenset(),
                   allow_files: bool = True) -> AdPipeline:
    """The pipeline with in-memory state, for `vigil score` and evaluation."""
    fetch, photo_key = _image_parts(allow_files)
    model = load_text_model(model_path)
    return AdPipeline(
        link_store=MemoryLinkStore(),
        templates=memory_template_index(),
        fetch=fetch,
        banks=banks,
        model=model,
        disabled_families=frozenset(disabled_families),
        photo_key=photo_key,
        scoring_config=_scoring_config(model),
    )


def stream_pipeline(settings: Settings, client: redis.Redis, *, banks=None,
                    model_path=None, pending: PendingWrites | None = None) -> AdPipeline:
    """The pipeline with its state in Redis, shared by every worker; writes queued in `pending`
    go out with the link state's next write."""
    prefix = redis_prefix(settings)
    pending = pending or PendingWrites()
    fetch, photo_key = _image_parts(allow_files=False)
    model = load_text_model(model_path)
    return AdPipeline(
        # an identifier idle for VIGIL_LINK_RETENTION_DAYS is forgotten (never past VIGIL_RETENTION_DAYS)
        link_store=RedisLinkStore(client, prefix, ttl_s=settings.link_ttl_s, pending=pending),
        templates=TemplateIndex(RedisTemplateStore(client, prefix, ttl_s=settings.link_ttl_s,
                                                   pending=pending)),
        fetch=fetch,
        banks=banks,
        model=model,
        photo_key=photo_key,
        scoring_config=_scoring_config(model),
    )


@dataclass
class MemorySuppression:
    """Alert suppression state in memory (batch path)."""

    states: dict

    def check(self, cluster_id: str, severity: str, size: int,
              ad_id: str | None = None) -> AlertDecision:
        decision = decide(self.states.get(cluster_id), severity=severity, cluster_size=size,
                          ad_id=ad_id)
        self.states[cluster_id] = decision.state
        return decision


class RedisSuppression:
    """Alert suppression state in Redis with a TTL (one key per cluster).

    Read, decide and write are one optimistic transaction (WATCH/MULTI): two workers scoring
    ads of one cluster at once cannot both take its "first alert" (the loser re-reads the
    winner's state and decides again)."""

    def __init__(self, client: redis.Redis, prefix: str,
                 window_s: int = SUPPRESSION_WINDOW_S) -> None:
        self.client, self.prefix, self.window_s = client, prefix, window_s

    def check(self, cluster_id: str, severity: str, size: int,
              ad_id: str | None = None) -> AlertDecision:
        key = f"{self.prefix}suppress:{cluster_id}"
        decided: list[AlertDecision] = []

        def read_decide_write(pipe: redis.client.Pipeline) -> None:
            raw = pipe.get(key)
            decision = decide(json.loads(raw) if raw else None, severity=severity,
                              cluster_size=size, ad_id=ad_id)
            decided[:] = [decision]
            pipe.multi()
            if decision.send:
                pipe.set(key, json.dumps(decision.state), ex=self.window_s)

        self.client.transaction(read_decide_write, key)
        return decided[0]


def alert_for(scored: dict, suppression) -> dict | None:
    """The alert to emit for a scored ad, or None (below threshold or suppressed)."""
    if not scored.get("alert"):
        return None
    cluster = scored.get("cluster") or {}
    cluster_id = cluster.get("cluster_id") or f"ad:{scored['ad_id']}"
    decision = suppression.check(cluster_id, scored["severity"], int(cluster.get("size") or 1),
                                 scored["ad_id"])
    missing_child = any(r["code"] == "bank:missing_children" for r in scored["reasons"])
    if not decision.send and not missing_child:  # a missing-children match is never suppressed
        return None
    alert = build_alert(scored)
    alert["why_now"] = decision.why
    return alert


def dedupe_key(prefix: str, ad_id: str) -> str:
    """The Redis key of the worker's duplicate check for one ad id (value: the partition:offset
    it was first seen at; it expires after VIGIL_DEDUPE_DAYS)."""
    return f"{prefix}seen:{ad_id}"


# long enough for any redelivery (records wait for a worker only while none runs), short
# enough that Redis holds hours, not days, of ~1 KB results: a later redelivery is scored again
RESULT_TTL_S = int(os.environ.get("VIGIL_RESULT_TTL_S", str(6 * 3600)))


class RedisResults:
    """What the worker emitted for each ad (its scored record and alert), kept in Redis for
    `ttl_s`, so an ad redelivered after a crash (at-least-once) is re-emitted exactly as it was
    the first time instead of being scored again against link state that has moved on.

    Stored after the link state was updated and before anything is produced: a record on
    ads.scored always has its stored result, so every copy of it is identical."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int = RESULT_TTL_S,
                 pending: PendingWrites | None = None) -> None:
        self.client, self.prefix, self.ttl_s = client, prefix, ttl_s
        self.pending = pending

    def _key(self, ad_id: str) -> str:
        return f"{self.prefix}result:{ad_id}"

    def get(self, ad_id: str) -> tuple[dict, dict | None] | None:
        raw = self.client.get(self._key(ad_id))
        if raw is None:
            return None
        doc = json.loads(zlib.decompress(raw))
        return doc["scored"], doc["alert"]

    def get_many(self, ad_ids: list[str]) -> dict[str, tuple[dict, dict | None]]:
        """The stored results of those of `ad_ids` that have one, in one round trip."""
        if not ad_ids:
            return {}
        found = {}
        for ad_id, raw in zip(ad_ids, self.client.mget([self._key(a) for a in ad_ids]), strict=True):
            if raw is not None:
                doc = json.loads(zlib.decompress(raw))
                found[ad_id] = (doc["scored"], doc["alert"])
        return found

    def put(self, ad_id: str, scored: dict, alert: dict | None) -> None:
        """Store the result; with `pending`, it goes out with the next Redis round trip of the
        link state or the worker's flush before it produces the batch, whichever comes first."""
        doc = json.dumps({"scored": scored, "alert": alert}, separators=(",", ":"), default=str)
        key, value = self._key(ad_id), zlib.compress(doc.encode(), 6)
        if self.pending is None:
            self.client.set(key, value, ex=self.ttl_s)
        else:
            self.pending.add(lambda pipe: pipe.set(key, value, ex=self.ttl_s))
