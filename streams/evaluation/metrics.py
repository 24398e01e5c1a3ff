"""Evaluation of scored ads against the generator's ground truth (pure: records in, figures out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn import metrics

POSITIVE_LABELS = frozenset({"trafficking", "missing_child"})


@dataclass(frozen=True)
class EvalReport:
    ads: int
    positives: int
    alerts: int
    precision: float
    recall: float
    f1: float
    pr_auc: float
    precision_at_100: float
    alerts_per_10k: float
    cluster_ari: float
    cluster_homogeneity: float
    cluster_completeness: float

    def row(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def is_positive(ground_truth: dict | None) -> bool:
    return bool(ground_truth) and ground_truth.get("label") in POSITIVE_LABELS


def evaluate(scored: Sequence[dict], truth: dict[str, dict]) -> EvalReport:
    """Alert quality and cluster quality of `scored` ads given ground truth by ad_id."""
    rows = [s for s in scored if s["ad_id"] in truth]
    y_true = np.array([is_positive(truth[s["ad_id"]]) for s in rows], dtype=bool)
    y_alert = np.array([bool(s.get("alert")) for s in rows], dtype=bool)
    risk = np.array([float(s["risk"]) for s in rows])
    tp = int((y_true & y_alert).sum())
    precision = tp / max(int(y_alert.sum()), 1)
    recall = tp / max(int(y_true.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    pr_auc = float(metrics.average_precision_score(y_true, risk)) if y_true.any() else 0.0
    top = np.argsort(-risk, kind="stable")[:100]
    p_at_100 = float(y_true[top].mean()) if len(top) else 0.0
    ari, hom, comp = cluster_quality(rows, truth)
    return EvalReport(
        ads=len(rows), positives=int(y_true.sum()), alerts=int(y_alert.sum()),
        precision=precision, recall=recall, f1=f1, pr_auc=pr_auc, precision_at_100=p_at_100,
        alerts_per_10k=10_000 * int(y_alert.sum()) / max(len(rows), 1),
        cluster_ari=ari, cluster_homogeneity=hom, cluster_completeness=comp,
    )


def cluster_quality(rows: Sequence[dict], truth: dict[str, dict]) -> tuple[float, float, float]:
    """ARI, homogeneity and completeness of vigil's clusters against the true organisations,
    over the ads that belong to an organisation (other ads have no true cluster to recover)."""
    org_rows = [s for s in rows if (truth[s["ad_id"]] or {}).get("org_id")]
    if len(org_rows) < 2:
        return 0.0, 0.0, 0.0
    true = [truth[s["ad_id"]]["org_id"] for s in org_rows]
    pred = [(s.get("cluster") or {}).get("cluster_id") or s["ad_id"] for s in org_rows]
    return (
        float(metrics.adjusted_rand_score(true, pred)),
        float(metrics.homogeneity_score(true, pred)),
        float(metrics.completeness_score(true, pred)),
    )


def with_final_clusters(scored: Sequence[dict], cluster_of) -> list[dict]:
    """Ads re-labelled with their cluster as it stands at the end of the run (clusters merge
    after an ad is scored); `cluster_of(ad_id)` asks the link store."""
    return [{**s, "cluster": {**(s.get("cluster") or {}), "cluster_id": cluster_of(s["ad_id"])}}
            for s in scored]


def severity_agreement(a: Sequence[dict], b: Sequence[dict]) -> tuple[float, int]:
    """Share of ads (by ad_id, present in both) whose severities agree, and the ads compared."""
    sev_b = {s["ad_id"]: s["severity"] for s in b}
    common = [s for s in a if s["ad_id"] in sev_b]
    if not common:
        return 0.0, 0
    same = sum(1 for s in common if s["severity"] == sev_b[s["ad_id"]])
    return same / len(common), len(common)
