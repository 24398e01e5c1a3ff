"""`vigil generate`: synthetic, labelled ads (minimal generator).

Ordinary classifieds, independent adult ads, and synthetic organisations that rotate phones,
reuse templates and photos and move along city circuits; plus planted missing-children photos.
All numbers are fictional (555-01xx), all photos ship inside scikit-image.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from PIL import Image, ImageOps

from streams.errors import CliError

CITIES = [("Denver", "CO"), ("Omaha", "NE"), ("Wichita", "KS"), ("Tulsa", "OK"), ("Boise", "ID"),
          ("Reno", "NV"), ("Tucson", "AZ"), ("Fresno", "CA"), ("Austin", "TX"), ("Memphis", "TN"),
          ("Louisville", "KY"), ("Raleigh", "NC"), ("Richmond", "VA"), ("Toledo", "OH"),
          ("Madison", "WI"), ("Spokane", "WA"), ("Des Moines", "IA"), ("Little Rock", "AR"),
          ("Albuquerque", "NM"), ("Birmingham", "AL")]
AREA = {"CO": 720, "NE": 402, "KS": 316, "OK": 918, "ID": 208, "NV": 775, "AZ": 520, "CA": 559,
        "TX": 512, "TN": 901, "KY": 502, "NC": 919, "VA": 804, "OH": 419, "WI": 608, "WA": 509,
        "IA": 515, "AR": 501, "NM": 505, "AL": 205}
START = datetime(2026, 10, 1, tzinfo=UTC)
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "cat"]
BANK_PHOTOS = ["hubble_deep_field", "immunohistochemistry"]

ITEMS = ["sofa", "bike", "desk", "guitar", "laptop", "dining table", "fridge", "stroller", "kayak",
         "lawn mower", "bookshelf", "camera", "drum kit", "treadmill", "crib"]
ADJ = ["barely used", "great condition", "like new", "some wear", "works perfectly", "well kept"]
BENIGN_KINDS = ["sale", "job", "rental", "lesson", "pet"]
WORDS = ["please", "serious", "buyers", "only", "cash", "pickup", "weekend", "evening", "call",
         "text", "moving", "must", "go", "offers", "welcome", "no", "holds", "thanks"]
ADULT_TEMPLATES = [
    "Independent companion, {age}. Relaxed and discreet, upscale gentlemen only. "
    "Text {phone} to arrange. Screening required.",
    "Mature and classy, {age} yrs old, located in {city}. Call {phone}. No rush appointments.",
]
ORG_TEMPLATES = [
    "Sweet {name} {age}yo new girl just arrived in town until {day}. Fun, young and fresh. "
    "Incall only, ask for my manager to book {phone} 🍒 24/7",
    "Hey guys its {name} visiting {city} for a few days, {age} years old, many girls available "
    "all night, call {phone} roses only no cops 🌹🌹",
    "{name} here, {age}, relaxing time with new friends in {city} this week. Incall. "
    "Text {phone} for details and rates.",
]
HARMLESS_ORG_TEMPLATE = (
    "{name}, {age}. Relaxing company in {city} this week, clean and friendly place, text {phone} "
    "for times and details, thank you for reading"
)
NAMES = ["Amber", "Bella", "Candy", "Destiny", "Emma", "Gigi", "Kitty", "Lola", "Mia", "Nina",
         "Roxy", "Sasha", "Tina", "Vicky", "Zoe"]
DAYS = ["Friday", "Sunday", "Tuesday", "the weekend"]
SPELLED = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def fictional_phone(rng: random.Random, region: str) -> str:
    return f"{AREA[region]}555{rng.randrange(100, 200):04d}"


def obfuscate(digits: str, rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if style == 1:
        return ".".join([digits[:3], digits[3:6], digits[6:]])
    if style == 2:
        return " ".join(SPELLED[int(d)] for d in digits)
    return "-".join([digits[:3], digits[3:6], digits[6:]])


@cache
def _photo(name: str) -> Image.Image:
    from skimage import data

    arr = getattr(data, name)()
    img = Image.fromarray(arr)
    return img.convert("RGB").resize((256, 256))


def photo_variant(name: str, rng: random.Random) -> str:
    img = _photo(name)
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    crop = rng.randrange(0, 12)
    img = img.crop((crop, crop, 256 - crop, 256 - crop))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randrange(60, 90))
    return base64.b64encode(buf.getvalue()).decode()


def _ad(ad_id: str, ts: datetime, title: str, body: str, city: str, region: str, truth: dict,
        images: list[dict] | None = None) -> dict:
    ad = {"ad_id": ad_id, "source": "synthetic", "posted_at": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
          "url": f"https://classifieds.example/{ad_id}", "title": title, "body": body,
          "location": {"city": city, "region": region, "country": "US"}, "ground_truth": truth}
    if images:
        ad["images"] = images
    return ad


def generate_ads(n: int, seed: int = 1, difficulty: str = "easy", images: bool = True) -> Iterator[dict]:
    """`n` labelled ads in time order, deterministic for a seed."""
    rng = random.Random(seed)
    n_orgs = max(1, n // 100)
    orgs = []
    for o in range(n_orgs):
        circuit = rng.sample(CITIES, rng.randint(3, 5))
        phones = [fictional_phone(rng, circuit[0][1]) for _ in range(rng.randint(2, 4))]
        harmless = difficulty == "hard" and o % 2 == 1
        orgs.append({"id": f"org{seed}-{o}", "circuit": circuit, "phones": phones,
                     "templates": [HARMLESS_ORG_TEMPLATE] if harmless else rng.sample(ORG_TEMPLATES, 2),
                     "photo": PHOTOS[o % len(PHOTOS)], "harmless": harmless})
    minutes = 30 * 24 * 60
    for i in range(n):
        ts = START + timedelta(minutes=minutes * i / max(n, 1))
        ad_id = f"s{seed}-{i:06d}"
        roll = rng.random()
        if i % 97 == 13:
            city, region = rng.choice(CITIES)
            imgs = [{"data_b64": photo_variant(BANK_PHOTOS[i % 2], rng)}] if images else None
            yield _ad(ad_id, ts, "Looking for a roommate", f"Quiet room available in {city}, "
                      f"shared kitchen. Text {obfuscate(fictional_phone(rng, region), rng)}.",
                      city, region, {"label": "missing_child", "org_id": None, "kind": "planted_photo",
                                     "intended_indicators": []}, imgs)
        elif roll < 0.25:
            org = orgs[rng.randrange(len(orgs))]
            city, region = org["circuit"][int((ts - START).days / 30 * len(org["circuit"])) % len(org["circuit"])]
            phone = rng.choice(org["phones"])
            text = rng.choice(org["templates"]).format(
                name=rng.choice(NAMES), age=rng.randint(18, 24), day=rng.choice(DAYS), city=city,
                phone=obfuscate(phone, rng))
            imgs = [{"data_b64": photo_variant(org["photo"], rng)}] if images and rng.random() < 0.5 else None
            yield _ad(ad_id, ts, text.split(".")[0][:60], text, city, region,
                      {"label": "trafficking", "org_id": org["id"],
                       "kind": "org_harmless" if org["harmless"] else "org",
                       "intended_indicators": []}, imgs)
        elif roll < 0.35:
            city, region = rng.choice(CITIES)
            phone = fictional_phone(rng, region)
            body = rng.choice(ADULT_TEMPLATES).format(age=rng.randint(25, 45), city=city,
                                                      phone=obfuscate(phone, rng))
            yield _ad(ad_id, ts, "Companion", body, city, region,
                      {"label": "adult", "org_id": None, "kind": "independent", "intended_indicators": []})
        else:
            city, region = rng.choice(CITIES)
            kind = rng.choice(BENIGN_KINDS)
            item = rng.choice(ITEMS)
            filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
            if difficulty == "hard" and rng.random() < 0.1:
                body = rng.choice([
                    "Licensed massage therapist, license #MT{n}. Deep tissue and sports massage, "
                    "new in town and accepting clients.",
                    "Farmers market this Saturday: fresh cherries, young greens and honey. {f}",
                    "New dental office now open, new in town! Cleanings and whitening. {f}",
                    "24/7 locksmith, fast and reliable, licensed and insured. {f}",
                ]).format(n=rng.randrange(10000, 99999), f=filler)
            else:
                body = (f"{kind.title()}: {item}, {rng.choice(ADJ)}. ${rng.randrange(20, 900)} or best "
                        f"offer. {filler}. Call {obfuscate(fictional_phone(rng, region), rng)}")
            yield _ad(ad_id, ts, f"{item.title()} {kind}", body, city, region,
                      {"label": "benign", "org_id": None, "kind": kind, "intended_indicators": []})


def write_bank_manifest(directory: Path, seed: int = 1) -> Path:
    """The planted missing-children photos as files plus a CSV manifest for `vigil bank add`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["entry_id", "case_id", "source", "date", "file"])
        for i, name in enumerate(BANK_PHOTOS):
            path = directory / f"{name}.png"
            _photo(name).save(path)
            writer.writerow([f"mc-{i}", f"SYN-CASE-{1000 + i}", "synthetic", "2026-01-01", path.name])
    return manifest


def _cmd_generate(args) -> int:
    if args.ads <= 0:
        raise CliError("--ads must be positive")
    out = sys.stdout if args.out in (None, "-") else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for ad in generate_ads(args.ads, seed=args.seed, difficulty=args.difficulty,
                               images=args.images == "inline"):
            out.write(json.dumps(ad, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if args.bank_out:
        write_bank_manifest(Path(args.bank_out), seed=args.seed)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="write synthetic labelled ads as JSON lines")
    p.add_argument("--ads", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--difficulty", choices=["easy", "hard"], default="easy")
    p.add_argument("--images", choices=["inline", "none"], default="inline")
    p.add_argument("--out", help="file (default stdout)")
    p.add_argument("--bank-out", help="also write the planted missing-children photos + manifest here")
    p.set_defaults(func=_cmd_generate)
