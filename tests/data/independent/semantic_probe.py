"""Does a WordLlama sentence-exemplar layer earn its place? A probe on the dev half only.

Static word embeddings from the `wordllama` wheel (256-d weights and tokenizer loaded by path:
its loader looks under tokenizer/, the wheel ships tokenizers/), exemplar sentences per category
written from the published red-flag lists, each ad's sentences compared with them (normalised
cosine). Prints the CPU cost per ad, the ROC-AUC of the best similarity alone, and at thresholds
that keep benign ads under 5, 3 and 1.5 %: the share of concerning ads over them and how many of
the concerning ads vigil misses at medium+ (from a `vigil score` output of the dev half) they
would catch. Not a vigil dependency: run it in its own venv, e.g.

    python3 -m venv /tmp/wl && /tmp/wl/bin/pip install wordllama==0.4.0.post1 \\
        huggingface-hub==0.36.0 tokenizers==0.22.2 scikit-learn==1.9.1
    .venv/bin/python -c "import json,sys; [print(json.dumps({k: v for k, v in json.loads(l).items()
        if k != 'eval'})) for l in open(sys.argv[1])]" tests/data/independent/ads_dev.jsonl \
        | .venv/bin/vigil score - --out /tmp/dev_scored.jsonl
    /tmp/wl/bin/python tests/data/independent/semantic_probe.py /tmp/dev_scored.jsonl
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import wordllama
from safetensors import safe_open
from sklearn.metrics import roc_auc_score
from tokenizers import Tokenizer
from wordllama.inference import WordLlamaInference

DEV = Path(__file__).with_name("ads_dev.jsonl")
SEVERITIES = ["none", "low", "medium", "high", "critical"]
SPLIT = re.compile(r"[.!?\n]+")
EXEMPLARS = {
    "third_party_control": ["my manager books my appointments", "call my boyfriend to set up a date",
                            "he collects the money before", "talk to my driver, not to me",
                            "someone else answers my phone and arranges everything",
                            "pay the man who brings her"],
    "restricted_movement": ["I cannot leave the house", "she stays at the place all the time",
                            "the girls are not allowed to go out", "she lives where she works"],
    "youth": ["young and new to this", "barely legal girl", "just turned eighteen",
              "fresh new girl, first time doing this"],
    "new_arrival_movement": ["just arrived in town for a few days only",
                             "here until Friday then leaving for another city", "new in town this week"],
    "multiple_workers": ["many girls to choose from", "new girls every week", "pick any one of us"],
    "availability_24_7": ["available day and night every day", "I answer any hour of the night"],
    "foreign_limited_language": ["speaks very little English", "she does not speak English",
                                 "just came from overseas"],
    "payment": ["deposit required before the date", "pay up front, no cash at the door"],
    "law_enforcement_avoidance": ["no police, no law enforcement", "if you are a cop do not contact me"],
    "risky_services": ["no limits, anything you want", "no condom needed"],
    "illicit_massage": ["massage with extras, men only, ring the bell",
                        "table shower and body to body, open late"],
}


def load_embeddings() -> WordLlamaInference:
    base = Path(wordllama.__file__).parent
    tokenizer = Tokenizer.from_file(str(base / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    with safe_open(str(base / "weights" / "l2_supercat_256.safetensors"), framework="np", device="cpu") as f:
        weights = f.get_tensor("embedding.weight")
    return WordLlamaInference(weights, tokenizer)


def main(scored_path: str) -> None:
    model = load_embeddings()
    exemplars = model.embed([s for sentences in EXEMPLARS.values() for s in sentences], norm=True)
    ads = [json.loads(line) for line in DEV.open(encoding="utf-8")]
    with open(scored_path, encoding="utf-8") as handle:
        scored = {r["ad_id"]: r for r in map(json.loads, handle)}
    started = time.process_time()
    best = []
    for ad in ads:
        sentences = [x.strip() for x in SPLIT.split(ad["title"] + "\n" + ad["body"]) if len(x.strip()) > 8]
        vectors = model.embed(sentences, norm=True) if sentences else None
        best.append(float((vectors @ exemplars.T).max()) if sentences else 0.0)
    cost = (time.process_time() - started) / len(ads) * 1e6
    y = np.array([ad["eval"]["label"] == "concerning" for ad in ads])
    best_arr = np.array(best)
    missed = np.array([SEVERITIES.index(scored[ad["ad_id"]]["severity"]) < 2 for ad in ads])
    print(f"CPU per ad (sentence split + embed + similarity): {cost:.0f} us; "
          f"ROC-AUC of the best similarity alone: {roc_auc_score(y, best_arr):.3f}")
    for q in (0.95, 0.97, 0.985):
        threshold = np.quantile(best_arr[~y], q)
        over = best_arr >= threshold
        print(f"threshold {threshold:.3f} (benign ads over it {np.mean(over[~y]):.3f}): concerning ads over "
              f"it {np.mean(over[y]):.3f}; of the {int((y & missed).sum())} concerning ads vigil misses at "
              f"medium+, {int((over & y & missed).sum())} are over it; benign ads not flagged yet over it: "
              f"{int((over & ~y & missed).sum())}")


if __name__ == "__main__":
    main(sys.argv[1])
