"""The synthetic corpus: deterministic, valid, fictional, and linked only where it means to be."""

from __future__ import annotations

import base64
import collections
import csv
import json
import re
from datetime import datetime, timedelta

import jsonschema
import pytest

from detectors.linking.templates import memory_template_index, new_lsh_index, signature
from detectors.text.entities import extract_entities
from detectors.text.indicators import match_indicators
from detectors.text.placeholders import template_text
from schemas import load_schema
from streams.cli import main
from streams.evaluation.generate import generate_ads, make_harmless_looking_org, write_bank_manifest
from streams.evaluation.synthetic import (
    KINDS,
    SPAN_DAYS,
    START,
    synthetic_ads,
)

HARD_ADS = 3000


@pytest.fixture(scope="module")
def hard_corpus():
    return list(synthetic_ads(HARD_ADS, seed=11, difficulty="hard"))


@pytest.fixture(scope="module")
def hard_entities(hard_corpus):
    return {item.ad["ad_id"]: extract_entities(item.ad["title"], item.ad["body"], country="US")
            for item in hard_corpus}


def test_same_seed_same_corpus_and_other_seed_another():
    first = list(generate_ads(300, seed=5, difficulty="hard", images=True))
    again = list(generate_ads(300, seed=5, difficulty="hard", images=True))
    other = list(generate_ads(300, seed=6, difficulty="hard", images=True))
    assert first == again
    assert [a["body"] for a in first] != [a["body"] for a in other]


def test_without_images_the_ads_are_the_same_but_for_images():
    with_images = list(generate_ads(400, seed=3, difficulty="easy", images=True))
    without = list(generate_ads(400, seed=3, difficulty="easy", images=False))
    assert any("images" in ad for ad in with_images)
    assert not any("images" in ad for ad in without)
    assert [{k: v for k, v in ad.items() if k != "images"} for ad in with_images] == without


def test_every_ad_is_a_valid_raw_ad_in_time_order_over_thirty_days(hard_corpus):
    validator = jsonschema.Draft202012Validator(
        load_schema("raw_ad"), format_checker=jsonschema.FormatChecker())
    stamps = []
    for item in hard_corpus:
        validator.validate(item.ad)
        assert item.ad["posted_at"].endswith("Z")
        stamps.append(datetime.fromisoformat(item.ad["posted_at"].replace("Z", "+00:00")))
        assert item.ad["ground_truth"]["kind"] in KINDS[item.ad["ground_truth"]["label"]]
    assert len(hard_corpus) == HARD_ADS
    assert len({item.ad["ad_id"] for item in hard_corpus}) == HARD_ADS
    assert stamps == sorted(stamps)
    assert stamps[0] >= START and stamps[-1] < START + timedelta(days=SPAN_DAYS)
    assert stamps[-1] - stamps[0] > timedelta(days=25)


def test_easy_and_hard_mixes(hard_corpus):
    easy = collections.Counter(
        i.ad["ground_truth"]["kind"] for i in synthetic_ads(3000, 11, "easy"))
    hard = collections.Counter(i.ad["ground_truth"]["kind"] for i in hard_corpus)
    for kinds in (easy, hard):
        assert kinds["org"] > 0 and kinds["independent"] > 0
        assert kinds["planted_photo"] + kinds["planted_photo_org"] >= 2
        assert sum(kinds[k] for k in KINDS["benign"]) > 0.6 * sum(kinds.values())
    assert not any(k.startswith("lookalike") or k == "org_light" for k in easy)
    assert hard["org_light"] > 0
    assert {k for k in hard if k.startswith("lookalike")} == {
        k for k in KINDS["benign"] if k.startswith("lookalike")}


def test_every_phone_in_the_corpus_is_fictional(hard_corpus, hard_entities):
    fiction = re.compile(r"^\+1[2-9]\d{2}5550[1]\d{2}$")
    exchange_555 = re.compile(r"^\+1[2-9]\d{2}555\d{4}$")
    checked = 0
    for item in hard_corpus:
        phones = [p["value"] for p in hard_entities[item.ad["ad_id"]]["phones"]]
        phones += ["+1" + re.sub(r"\D", "", p) for p in item.ad.get("phones", [])]
        sensitive = item.ad["ground_truth"]["label"] != "benign"
        for phone in phones:
            assert (fiction if sensitive else exchange_555).match(phone), phone
            checked += 1
    assert checked > HARD_ADS * 0.6


def test_no_two_actors_share_a_phone_email_or_photo(hard_corpus, hard_entities):
    owners = collections.defaultdict(set)
    for item in hard_corpus:
        entities = hard_entities[item.ad["ad_id"]]
        for phone in entities["phones"]:
            owners["phone", phone["value"]].add(item.actor)
        for email in entities["emails"]:
            owners["email", email["value"]].add(item.actor)
        for photo in item.photos:
            if not photo.bank:
                owners["photo", photo.photo_id].add(item.actor)
    shared = {key: actors for key, actors in owners.items() if len(actors) > 1}
    assert shared == {}
    assert sum(1 for kind, _ in owners if kind == "phone") > 500


def test_different_actors_rarely_write_near_duplicate_text(hard_corpus):
    lsh, sigs, actor_of = new_lsh_index(), {}, {}
    near_duplicates = 0
    for item in hard_corpus:
        sig = signature(template_text(item.ad["title"], item.ad["body"]))
        if sig.minhash is None:
            continue
        ad_id = item.ad["ad_id"]
        for other in lsh.query(sig.minhash):
            if actor_of[other] != item.actor and sig.minhash.jaccard(sigs[other]) >= 0.6:
                near_duplicates += 1
        lsh.insert(ad_id, sig.minhash)
        sigs[ad_id], actor_of[ad_id] = sig.minhash, item.actor
    assert near_duplicates <= HARD_ADS * 0.002


def _components(items, entities) -> dict[str, str]:
    """Union-find over shared phones, photos and near-duplicate templates: ad id -> root."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    lsh = new_lsh_index()
    for item in items:
        ad_id = item.ad["ad_id"]
        find(ad_id)
        keys = [f"phone:{p['value']}" for p in entities[ad_id]["phones"]]
        keys += [f"photo:{p.photo_id}" for p in item.photos]
        sig = signature(template_text(item.ad["title"], item.ad["body"]))
        if sig.minhash is not None:
            keys += list(lsh.query(sig.minhash))
            lsh.insert(ad_id, sig.minhash)
        for key in keys:
            parent[find(key)] = find(ad_id)
    return {item.ad["ad_id"]: find(item.ad["ad_id"]) for item in items}


def test_each_organisation_is_one_linked_component_with_a_circuit(hard_corpus, hard_entities):
    orgs = collections.defaultdict(list)
    for item in hard_corpus:
        if item.ad["ground_truth"]["org_id"]:
            orgs[item.ad["ground_truth"]["org_id"]].append(item)
    assert len(orgs) >= 5
    roots = _components(hard_corpus, hard_entities)
    linked = 0
    for items in orgs.values():
        largest = collections.Counter(roots[i.ad["ad_id"]] for i in items).most_common(1)[0][1]
        linked += largest
        if len(items) >= 10:
            assert len({i.ad["location"]["city"] for i in items}) >= 2
            phones = collections.defaultdict(set)
            for i in items:
                entities = hard_entities[i.ad["ad_id"]]
                for p in entities["phones"]:
                    phones[p["value"]].update(a["value"] for a in entities["ages"])
            assert 2 <= len(phones) <= 6
            assert max(len(ages) for ages in phones.values()) >= 2  # several people, one phone
    assert linked >= 0.97 * sum(len(items) for items in orgs.values())
    # and no organisation is joined to ads of anyone else
    members = collections.defaultdict(set)
    for item in hard_corpus:
        members[roots[item.ad["ad_id"]]].add(item.actor)
    org_roots = {roots[i.ad["ad_id"]] for items in orgs.values() for i in items}
    assert all(len(members[root]) == 1 for root in org_roots)


def test_intended_indicators_fire_and_others_mostly_do_not(hard_corpus):
    intended = fired = 0
    clean_benign = benign = 0
    for item in hard_corpus:
        truth = item.ad["ground_truth"]
        hits = match_indicators(item.ad["title"], item.ad["body"])
        found = {hit["id"] for hit in hits}
        wanted = {i for i in truth["intended_indicators"] if ":" not in i}
        intended += len(wanted)
        fired += len(wanted & found)
        if truth["kind"] in ("cars", "furniture", "electronics", "jobs", "rentals", "pets"):
            benign += 1
            # contexts are soft: ordinary ads may carry weak, context-discounted evidence, but
            # rarely anything of weight (the grammar's broad concepts make it 0.92, not 0.99)
            clean_benign += not any(hit["weight"] >= 0.3 for hit in hits)
    assert intended > 500
    assert fired >= 0.9 * intended
    assert clean_benign >= 0.92 * benign


def test_harmless_looking_org_is_plain_alone_but_linked_across_five_cities():
    ads = make_harmless_looking_org(n_ads=40, n_cities=5, seed=4)
    assert len(ads) == 40
    assert {ad["ground_truth"]["org_id"] for ad in ads} == {"org-4-harmless"}
    assert len({ad["location"]["city"] for ad in ads}) == 5
    # nothing of weight (contexts are soft: weak, discounted evidence may remain)
    assert all(all(i["weight"] < 0.3 for i in match_indicators(ad["title"], ad["body"])) for ad in ads)
    cities_of_phone = collections.defaultdict(set)
    ages_of_phone = collections.defaultdict(set)
    for ad in ads:
        entities = extract_entities(ad["title"], ad["body"], country="US")
        assert len(entities["phones"]) == 1
        phone = entities["phones"][0]["value"]
        cities_of_phone[phone].add(ad["location"]["city"])
        ages_of_phone[phone].update(a["value"] for a in entities["ages"])
    assert len(cities_of_phone) >= 2
    assert all(len(cities) >= 2 for cities in cities_of_phone.values())
    assert all(len(ages) >= 2 for ages in ages_of_phone.values())
    photos = {ad["images"][0]["data_b64"] for ad in ads}
    assert 1 <= len(photos) <= 3  # one photo, re-posted as a few variants
    templates = memory_template_index()
    assert len({templates.assign(ad["ad_id"], template_text(ad["title"], ad["body"]))
                for ad in ads}) == 1


def test_bank_manifest_and_planted_photos_match_the_bank(tmp_path):
    from detectors.images.banks import BankSet
    from detectors.images.hashing import decode_image, hash_image
    from streams.banks.store import entries_from_path

    manifest = write_bank_manifest(tmp_path / "bank")
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r.keys() for r in rows][0] >= {"entry_id", "case_id", "source", "date", "file"}
    assert all((tmp_path / "bank" / r["file"]).exists() for r in rows)
    banks = BankSet(entries_from_path("missing_children", tmp_path / "bank"))

    ads = list(generate_ads(2500, seed=8, difficulty="easy"))
    planted = [ad for ad in ads if ad["ground_truth"]["label"] == "missing_child"]
    assert len(planted) >= 2
    for ad in planted:
        hashes = hash_image(decode_image(base64.b64decode(ad["images"][0]["data_b64"])))
        assert banks.match(hashes), ad["ad_id"]
    others = [ad for ad in ads
              if ad.get("images") and ad["ground_truth"]["label"] != "missing_child"]
    assert len(others) > 100
    for ad in others[:150]:
        hashes = hash_image(decode_image(base64.b64decode(ad["images"][0]["data_b64"])))
        assert banks.match(hashes) == [], ad["ad_id"]


def test_cli_writes_json_lines_and_the_bank(tmp_path, capsys):
    out = tmp_path / "ads.jsonl"
    code = main(["generate", "--ads", "40", "--seed", "2", "--difficulty", "hard", "--images",
                 "none", "--out", str(out), "--bank-out", str(tmp_path / "bank")])
    assert code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40
    assert all("ground_truth" in json.loads(line) for line in lines)
    assert (tmp_path / "bank" / "manifest.csv").exists()
    assert "40 ads" in capsys.readouterr().err


def test_cli_refuses_a_non_positive_count(capsys):
    assert main(["generate", "--ads", "0"]) == 2
    assert "--ads" in capsys.readouterr().err


def test_hubs_are_shared_by_unrelated_actors_and_add_only_a_sentence(hard_corpus, hard_entities):
    from streams.evaluation.synthetic import HUB_EMAILS

    with_hubs = list(synthetic_ads(HARD_ADS, seed=11, difficulty="hard", hubs=True))
    assert [i.ad["ad_id"] for i in with_hubs] == [i.ad["ad_id"] for i in hard_corpus]
    changed = 0
    owners = collections.defaultdict(set)
    for plain, hub in zip(hard_corpus, with_hubs, strict=True):
        assert hub.ad["body"].startswith(plain.ad["body"].rstrip(". ")[:-1])  # one sentence added
        if hub.ad["body"] != plain.ad["body"]:
            changed += 1
            assert hub.ad["ground_truth"]["label"] in ("adult", "trafficking", "missing_child")
        own = {p["value"] for p in hard_entities[plain.ad["ad_id"]]["phones"]}
        found = extract_entities(hub.ad["title"], hub.ad["body"], country="US")
        for phone in found["phones"]:
            if phone["value"] not in own:
                owners["desk", phone["value"]].add(hub.actor)
        for email in found["emails"]:
            if email["value"] in HUB_EMAILS:
                owners["email", email["value"]].add(hub.actor)
    assert 0.01 * HARD_ADS < changed < 0.15 * HARD_ADS
    shared = [actors for actors in owners.values() if len(actors) > 1]
    assert len(shared) >= 3, "hubs must be shared by several actors"
    assert any(any(a.startswith("org-") for a in actors) and any(a.startswith("independent-") for a in actors)
               for actors in shared), "an organisation and an independent meet at a hub"
