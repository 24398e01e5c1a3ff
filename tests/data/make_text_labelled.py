"""Write tests/data/text_labelled.jsonl: synthetic ad texts with the entities they contain.

Deterministic (fixed seeds): `python tests/data/make_text_labelled.py` rewrites the whole file;
`--keep-first` keeps its first 401 records (written by an earlier revision of this script, which
drew them differently) and rewrites the issue 12 records after them, as the committed file was
made.
Every phone is fictional: US numbers use the reserved 555-0100..0199 exchange range, other
countries get random digits that `phonenumbers` accepts as valid. Names, handles and emails are
random strings. Each line: {"id", "group" ("positive"|"negative"), "style", "held_out",
"country", "title", "body", "expected": {"phones", "emails", "handles", "ages", "urls",
"locations"}}.

Obfuscation styles are drawn broadly; the styles in HELD_OUT_STYLES were added after the
extractor was written and are not special-cased by it (the benchmark reports them apart). The
ISSUE12_STYLES (ids from 1000 on) are the styles issue 12 found missed on independently written
ads, each with negatives that look like it (prices after numbers, "6 to 8" ranges, "2 for 1",
"9;20" scores, lotteries, serials with odd groupings, "2thousand").
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import phonenumbers

SEED = 20261125
OUT = Path(__file__).with_name("text_labelled.jsonl")

US_AREA_CODES = [
    201,
    212,
    213,
    305,
    312,
    404,
    415,
    469,
    503,
    512,
    602,
    615,
    702,
    704,
    713,
    718,
    720,
    786,
    813,
    832,
    904,
    916,
    919,
    949,
    972,
    206,
    210,
    214,
    216,
    301,
]
EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ES = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]
EN_TENS = {
    2: "twenty",
    3: "thirty",
    4: "forty",
    5: "fifty",
    6: "sixty",
    7: "seventy",
    8: "eighty",
    9: "ninety",
}
EN_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
DINGBAT = "⓿➊➋➌➍➎➏➐➑➒"
FULLWIDTH = "０１２３４５６７８９"
MATH_BOLD = "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"
SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
EMOJI_SEPS = ["💋", "🔥", "❤️", "💕", "⭐", "🌸", "✨"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]

STYLES = [
    "plain_dash",
    "parens",
    "dots",
    "spaces",
    "e164_plus",
    "one_prefix",
    "spelled_en",
    "spelled_es",
    "concat_words",
    "mixed_words_digits",
    "tens_words",
    "circled",
    "dingbat",
    "fullwidth",
    "keycap",
    "letter_for_digit",
    "sep_underscore",
    "sep_star",
    "sep_slash",
    "emoji_between",
    "zero_width",
    "html_entities",
    "html_tags",
    "spaced_digits",
    "spaced_dashes",
    "double_words",
    "national_foreign",
    "international_foreign",
]
HELD_OUT_STYLES = ["math_bold", "superscript", "arabic_indic", "dot_word_separator"]
# styles issue 12 found missed on independently written ads (added after the first set, drawn
# from their own random stream so that the records above stay as they were)
ISSUE12_STYLES = [
    "price_after",
    "other_grouping",
    "spelled_split",
    "homophones",
    "compound_words",
    "symbol_separators",
    "mixed_groups",
    "national_own_country",
]
ISSUE12_SEED = SEED + 12

FIRST = [
    "Amber",
    "Bella",
    "Candy",
    "Destiny",
    "Emma",
    "Gigi",
    "Kitty",
    "Lola",
    "Mia",
    "Nina",
    "Roxy",
    "Sasha",
    "Tina",
    "Vicky",
    "Zoe",
    "Ava",
    "Luna",
    "Jade",
    "Ruby",
    "Skye",
]
WEBMAIL = ["gmail", "yahoo", "hotmail", "outlook", "icloud", "protonmail"]
CITIES = [
    "Denver",
    "Omaha",
    "Wichita",
    "Tulsa",
    "Boise",
    "Reno",
    "Tucson",
    "Fresno",
    "Memphis",
    "Louisville",
    "Raleigh",
    "Toledo",
    "Spokane",
    "Albuquerque",
    "Houston",
    "Phoenix",
    "Atlanta",
    "Chicago",
    "Dallas",
    "Seattle",
    "Orlando",
    "Sacramento",
    "Portland",
    "Las Vegas",
    "San Diego",
    "Miami",
    "Nashville",
    "Charlotte",
]
FOREIGN = {
    "MX": ["Guadalajara", "Monterrey", "Puebla", "Tijuana"],
    "ES": ["Madrid", "Barcelona", "Valencia", "Sevilla"],
    "GB": ["Manchester", "Birmingham", "Leeds", "Glasgow"],
}


# --- numbers -------------------------------------------------------------------------------


def us_number(rng: random.Random) -> tuple[str, str]:
    """(national 10 digits, E.164) in the fictional 555-01xx range."""
    area = rng.choice(US_AREA_CODES)
    national = f"{area}555{rng.randrange(100, 200):04d}"
    return national, "+1" + national


def foreign_number(rng: random.Random, country: str) -> tuple[str, str]:
    """(national significant number, E.164): random digits that phonenumbers accepts."""
    for _ in range(1000):
        if country == "MX":
            nsn = rng.choice(["55", "33", "81"]) + "".join(
                rng.choice("0123456789") for _ in range(8)
            )
        elif country == "ES":
            nsn = rng.choice("67") + "".join(rng.choice("0123456789") for _ in range(8))
        else:  # GB mobile
            nsn = "7" + rng.choice("45789") + "".join(rng.choice("0123456789") for _ in range(8))
        number = phonenumbers.parse("+" + str(phonenumbers.country_code_for_region(country)) + nsn)
        if phonenumbers.is_valid_number(number):
            return nsn, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise RuntimeError(f"no valid random number for {country}")


def gb_fiction_number(rng: random.Random) -> tuple[str, str]:
    """(national significant number, E.164) in Ofcom's drama range 07700 900000-900999."""
    nsn = f"7700900{rng.randrange(0, 1000):03d}"
    return nsn, "+44" + nsn


HOMOPHONE_WORDS = {"2": ["to", "too"], "4": ["for", "fore"], "1": ["won"], "8": ["ate"],
                   "3": ["tree"], "0": ["oh", "o"]}
SPLIT_SYMBOLS = ["/", ".", "-", "+"]
GROUP_SYMBOLS = [" / ", " . ", " - ", " // ", "/", " + "]
SEPARATOR_SYMBOLS = ["$", "$$", "@", "!", "!!", ";", ";;", " ; ", "@@"]


def homophones(national: str, rng: random.Random) -> str:
    """Spelled digits with homophones for some ("seven oh to five five five oh won to tree")."""
    parts = []
    for chunk in groups(national):
        words = []
        for d in chunk:
            if d in HOMOPHONE_WORDS and rng.random() < 0.7:
                words.append(rng.choice(HOMOPHONE_WORDS[d]))
            else:
                words.append(EN[int(d)])
        parts.append(" ".join(words))
    return rng.choice([", ", " ", " - "]).join(parts)


def spelled_split(national: str, rng: random.Random) -> str:
    """Digits, each a word or a digit, split by symbols ("seven/0/two - five.5.five - ...")."""
    inner = rng.choice(SPLIT_SYMBOLS)
    parts = []
    for chunk in groups(national):
        parts.append(inner.join(EN[int(d)] if rng.random() < 0.6 else d for d in chunk))
    return rng.choice(GROUP_SYMBOLS).join(parts)


def compound_words(national: str, rng: random.Random) -> str:
    """Each group's digits glued, some as words ("sevenoh2 fivefive5 0onetwothree")."""
    return rng.choice([" ", "-", "."]).join(
        "".join(EN[int(d)] if rng.random() < 0.7 else d for d in chunk) for chunk in groups(national)
    )


def mixed_groups(national: str, rng: random.Random) -> str:
    """The digits in groups of one and two, at least one single, four groups or more."""
    while True:
        out, i = [], 0
        while i < len(national):
            size = rng.choice([1, 2])
            out.append(national[i : i + size])
            i += size
        if len(out) >= 4 and min(map(len, out)) == 1:
            return " ".join(out)


def other_grouping(national: str, rng: random.Random) -> str:
    """A grouping other than 3-3-4 that keeps the area code in the first group."""
    cuts = rng.choice([(3, 7), (4, 8), (4, 7), (3, 5, 8), (5, 8)])
    bounds = [0, *cuts, len(national)]
    parts = [national[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return rng.choice([" ", "-", "."]).join(parts)


def groups(national: str) -> list[str]:
    return [national[:3], national[3:6], national[6:]] if len(national) == 10 else [national]


def spelled(digits: str, words: list[str], rng: random.Random, oh: bool = False) -> str:
    out = []
    for d in digits:
        if d.isdigit():
            word = words[int(d)]
            if d == "0" and oh and rng.random() < 0.5:
                word = "oh"
            out.append(word)
        else:
            out.append(d)
    return " ".join(w for w in out if w.strip())


def tens_words(national: str, rng: random.Random) -> str:
    """Digits read in pairs where a pair reads as one number ("fifty five", "one twenty three")."""
    parts = []
    for chunk in groups(national):
        i = 0
        words = []
        while i < len(chunk):
            pair = chunk[i : i + 2]
            if len(pair) == 2 and pair[0] != "0" and pair[1] != "0" and rng.random() < 0.6:
                tens, unit = int(pair[0]), int(pair[1])
                if tens == 1:
                    words.append(EN_TEENS[unit])
                else:
                    words.append(f"{EN_TENS[tens]}{rng.choice([' ', '-'])}{EN[unit]}")
                i += 2
            else:
                d = chunk[i]
                words.append("oh" if d == "0" and rng.random() < 0.5 else EN[int(d)])
                i += 1
        parts.append(" ".join(words))
    return ", ".join(parts) if rng.random() < 0.5 else " ".join(parts)


def map_digits(text: str, table: str) -> str:
    return "".join(table[int(c)] if c.isdigit() else c for c in text)


def letter_for_digit(national: str, rng: random.Random) -> str:
    formatted = "-".join(groups(national)) if rng.random() < 0.6 else national
    out = []
    for c in formatted:
        if c == "0":
            out.append(rng.choice("Oo"))
        elif c == "1":
            out.append(rng.choice("lI"))
        else:
            out.append(c)
    return "".join(out)


def obfuscate(national: str, e164: str, style: str, country: str, rng: random.Random) -> str:
    g = groups(national)
    if style == "plain_dash":
        return "-".join(g)
    if style == "parens":
        return f"({g[0]}) {g[1]}-{g[2]}"
    if style == "dots":
        return ".".join(g)
    if style == "spaces":
        return " ".join(g)
    if style == "e164_plus":
        return rng.choice(
            [e164, f"+1 {' '.join(g)}", f"+1-{'-'.join(g)}", f"+1 ({g[0]}) {g[1]} {g[2]}"]
        )
    if style == "one_prefix":
        return rng.choice([f"1-{'-'.join(g)}", f"1 ({g[0]}) {g[1]}-{g[2]}", f"1{national}"])
    if style == "spelled_en":
        return spelled(national, EN, rng, oh=True)
    if style == "spelled_es":
        return spelled(national, ES, rng)
    if style == "concat_words":
        return " ".join("".join(EN[int(d)] for d in chunk) for chunk in g)
    if style == "mixed_words_digits":
        k = rng.randrange(3)
        return " ".join(spelled(chunk, EN, rng) if i == k else chunk for i, chunk in enumerate(g))
    if style == "tens_words":
        return tens_words(national, rng)
    if style == "circled":
        return map_digits(rng.choice([national, " ".join(g), "-".join(g)]), CIRCLED)
    if style == "dingbat":
        return map_digits(rng.choice([national, " ".join(g)]), DINGBAT)
    if style == "fullwidth":
        return map_digits(rng.choice(["-".join(g), f"({g[0]}) {g[1]}-{g[2]}"]), FULLWIDTH)
    if style == "keycap":
        return "".join(
            f"{c}\ufe0f\u20e3" if c.isdigit() else c for c in rng.choice([national, " ".join(g)])
        )
    if style == "letter_for_digit":
        return letter_for_digit(national, rng)
    if style in ("sep_underscore", "sep_star", "sep_slash"):
        sep = {"sep_underscore": "_", "sep_star": "*", "sep_slash": "/"}[style]
        return sep.join(g) if rng.random() < 0.5 else sep.join(national)
    if style == "emoji_between":
        e = rng.choice(EMOJI_SEPS)
        return e.join(national) if rng.random() < 0.5 else e.join(g)
    if style == "zero_width":
        return "".join(c + rng.choice(ZERO_WIDTH) for c in "-".join(g)).rstrip("".join(ZERO_WIDTH))
    if style == "html_entities":
        return "".join(
            f"&#{ord(c)};" if c.isdigit() and rng.random() < 0.6 else c for c in "-".join(g)
        )
    if style == "html_tags":
        return f"<b>{g[0]}</b>-<span>{g[1]}</span>-<i>{g[2]}</i>"
    if style == "spaced_digits":
        return " ".join(national)
    if style == "spaced_dashes":
        return " - ".join(" ".join(chunk) for chunk in g)
    if style == "double_words":
        out, i = [], 0
        while i < len(national):
            if i + 1 < len(national) and national[i] == national[i + 1] and national[i] != "0":
                out.append(f"double {EN[int(national[i])]}")
                i += 2
            else:
                out.append(EN[int(national[i])])
                i += 1
        return " ".join(out)
    if style == "national_foreign":
        if country == "MX":
            return f"{national[:2]} {national[2:6]} {national[6:]}"
        if country == "ES":
            return f"{national[:3]} {national[3:5]} {national[5:7]} {national[7:]}"
        return f"0{national[:4]} {national[4:]}"
    if style == "international_foreign":
        cc = phonenumbers.country_code_for_region(country)
        return rng.choice(
            [f"+{cc} {national[:2]} {national[2:6]} {national[6:]}", e164, f"00{cc} {national}"]
        )
    # styles issue 12 found missed
    if style == "price_after":
        written = rng.choice(["-".join(g), " ".join(g), f"({g[0]}) {g[1]}-{g[2]}", ".".join(g)])
        return written + rng.choice([" $150", " $200/hr", " $180 full hr", " $80 qv", " $300"])
    if style == "other_grouping":
        return other_grouping(national, rng)
    if style == "spelled_split":
        return spelled_split(national, rng)
    if style == "homophones":
        return homophones(national, rng)
    if style == "compound_words":
        return compound_words(national, rng)
    if style == "symbol_separators":
        if rng.random() < 0.3:
            left, right = rng.choice([("((", "))"), ("{{", "}}"), ("[[", "]]")])
            return f"{left}{g[0]}{right}{rng.choice(['', ' '])}{g[1]}{rng.choice(SEPARATOR_SYMBOLS)}{g[2]}"
        sep = rng.choice(SEPARATOR_SYMBOLS)
        return sep.join(g)
    if style == "mixed_groups":
        return mixed_groups(national, rng)
    if style == "national_own_country":
        if country == "GB":
            return rng.choice(
                [f"0{national}", f"0{national[:4]}-{national[4:]}", f"0{national[:3]} {national[3:6]} {national[6:]}"]
            )
        if country == "MX":
            return rng.choice(
                [f"({national[:2]}) {national[2:6]}-{national[6:]}", f"{national[:2]}-{national[2:6]}-{national[6:]}",
                 " ".join(national[k : k + 2] for k in range(0, 10, 2))]
            )
        return f"{national[:3]}-{national[3:6]}-{national[6:]}"
    # held-out styles
    if style == "math_bold":
        return map_digits("-".join(g), MATH_BOLD)
    if style == "superscript":
        return map_digits(" ".join(g), SUPERSCRIPT)
    if style == "arabic_indic":
        return map_digits(" ".join(g), ARABIC_INDIC)
    if style == "dot_word_separator":
        return " dot ".join(g)
    raise ValueError(style)


# --- other entities ------------------------------------------------------------------------


def random_handle(rng: random.Random) -> str:
    name = rng.choice(FIRST).lower()
    return rng.choice(
        [
            f"{name}_{rng.randrange(10, 99)}",
            f"{name}{rng.randrange(100, 999)}",
            f"sweet{name}{rng.randrange(1, 9)}",
            f"{name}.x{rng.randrange(10, 99)}",
        ]
    )


def email_mention(rng: random.Random) -> tuple[str, str]:
    local = f"{rng.choice(FIRST).lower()}{rng.randrange(10, 999)}"
    host = rng.choice(WEBMAIL)
    value = f"{local}@{host}.com"
    text = rng.choice(
        [
            value,
            f"{local} at {host} dot com",
            f"{local}(at){host}(dot)com",
            f"{local} [at] {host} [dot] com",
            f"{local} @ {host} . com",
            f"{local.upper()}@{host.upper()}.COM",
        ]
    )
    return text, value


def handle_mention(rng: random.Random) -> tuple[str, str]:
    handle = random_handle(rng)
    platform, text = rng.choice(
        [
            ("snapchat", f"snap: {handle}"),
            ("snapchat", f"SC: {handle}"),
            ("snapchat", f"\U0001f47b {handle}"),
            ("snapchat", f"add my snapchat {handle}"),
            ("instagram", f"IG: @{handle}"),
            ("instagram", f"insta {handle}"),
            ("telegram", f"telegram @{handle}"),
            ("telegram", f"t.me/{handle}"),
            ("instagram", f"instagram.com/{handle}"),
            ("kik", f"kik me at {handle}"),
            ("whatsapp", f"WhatsApp: {handle}"),
        ]
    )
    return text, f"{platform}:{handle}"


def url_mention(rng: random.Random) -> str:
    word = rng.choice(["fun", "vip", "dates", "world"])
    name = f"{rng.choice(FIRST).lower()}{word}{rng.randrange(1, 99)}"
    tld = rng.choice(["com", "net", "xyz", "site"])
    return rng.choice(
        [
            f"www.{name}.{tld}",
            f"https://{name}.{tld}/profile",
            f"{name}.{tld}",
            f"http://www.{name}.{tld}/gallery?id={rng.randrange(1, 999)}",
        ]
    )


def age_mention(rng: random.Random) -> tuple[str, int]:
    age = rng.randrange(19, 35)
    words = {19: "nineteen", 20: "twenty", 21: "twenty one", 22: "twenty-two", 23: "twenty three"}
    options = [
        f"{age}yo",
        f"{age} y/o",
        f"age: {age}",
        f"I'm {age}",
        f"{age} years old",
        f"{age} yrs old",
    ]
    if age in words:
        options.append(f"{words[age]} years old")
    if age in (19, 20, 21, 22, 23):
        options.append(f"tengo {age} años")
    return rng.choice(options), age


# --- ad texts ------------------------------------------------------------------------------

POSITIVE_OPENERS = [
    "{name} here, sweet and friendly, {age_text}, visiting {city} this week.",
    "Hi gentlemen, {name} {age_text} in {city}. Relaxed and discreet, no rush.",
    "Selling my {item}, barely used, asking ${price}. Pick up in {city}.",
    "Room for rent in {city}, ${price}/month, utilities included, available {date}.",
    "Now hiring cooks and servers in {city}, $17/hr, apply in person {date}.",
    "{name}, {age_text}. Upscale companion in {city}, incall and outcall, roses {price}.",
    "Piano lessons for kids and adults in {city}, 45 min for ${small}.",
    "Lost dog near {city} park on {date}, reward ${small}. Brown lab, 60 lbs.",
    "Hola, soy {name}, {age_text}, nueva en {city}, muy cariñosa y discreta.",
    "{name} {age_text} new in town, {city} until Sunday then leaving for {city2}.",
]
CONTACT_LINES = [
    "Call or text {phone}.",
    "Text me at {phone} anytime.",
    "Contact: {phone}",
    "📱 {phone}",
    "Serious buyers only, call {phone} after {time}.",
    "Llámame al {phone}",
    "Ph: {phone}",
    "{phone} text only",
    "No blocked calls. {phone}",
    "For appointments {phone} (text first)",
]
EXTRA_LINES = [
    "Rates: hh {small} / h {price}.",
    "Open {time} to late, 7 days.",
    "Ask about specials.",
    "Located near exit {exit} off I-{interstate}.",
    "Serious inquiries only.",
    "{email_text} for pics.",
    "{handle_text}",
    "Available {date}.",
    "Zip {zip}.",
    "Model {model}, {miles} miles.",
    "Thanks for reading!",
    "Height 5'{inch}\", {lbs} lbs.",
    "More at {url_text}",
    "Reviews: {url_text} .",
]
ITEMS = [
    "sofa",
    "mountain bike",
    "desk",
    "guitar",
    "laptop",
    "dining table",
    "fridge",
    "kayak",
    "camera",
    "treadmill",
]


def date_text(rng: random.Random) -> str:
    m, d, y = rng.randrange(1, 13), rng.randrange(1, 29), rng.choice([2024, 2025, 2026])
    return rng.choice(
        [
            f"{m}/{d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d}.{m:02d}.{y}",
            f"{m}/{d}",
            f"March {d}, {y}",
            f"{d} Oct {y}",
            f"{m:02d}-{d:02d}-{str(y)[2:]}",
        ]
    )


def time_text(rng: random.Random) -> str:
    h, mi = rng.randrange(1, 13), rng.choice([0, 15, 30, 45])
    return rng.choice(
        [f"{h}:{mi:02d}pm", f"{h}:{mi:02d} am", f"{h}pm", f"{h + 8}:{mi:02d}", f"{h}:{mi:02d}"]
    )


def fill(template: str, rng: random.Random, **extra) -> str:
    values = {
        "name": rng.choice(FIRST),
        "city": rng.choice(CITIES),
        "city2": rng.choice(CITIES),
        "item": rng.choice(ITEMS),
        "price": rng.choice([150, 200, 250, 300, 450, 1200, 1850]),
        "small": rng.choice([40, 60, 80, 100, 120]),
        "date": date_text(rng),
        "time": time_text(rng),
        "exit": rng.randrange(10, 300),
        "interstate": rng.choice([5, 10, 15, 25, 35, 40, 70, 80, 95]),
        "zip": f"{rng.randrange(10000, 99999)}",
        "model": f"XR-{rng.randrange(100, 9999)}",
        "miles": f"{rng.randrange(10, 200)},{rng.randrange(0, 999):03d}",
        "inch": rng.randrange(0, 11),
        "lbs": rng.randrange(100, 180),
        "age_text": "",
        "email_text": "",
        "handle_text": "",
        "url_text": "",
    }
    values.update(extra)
    return template.format(**values)


def positive(rng: random.Random, idx: int, style: str, held_out: bool) -> dict:
    country = "US"
    if style in ("national_foreign", "international_foreign"):
        country = rng.choice(["MX", "ES", "GB"])
    elif style == "national_own_country":
        country = rng.choice(["MX", "GB"])
    expected = {"phones": [], "emails": [], "handles": [], "ages": [], "urls": [], "locations": []}
    n_phones = 2 if rng.random() < 0.15 else 1
    phone_texts = []
    for _ in range(n_phones):
        if style == "national_own_country" and country == "GB":
            national, e164 = gb_fiction_number(rng)
        else:
            national, e164 = us_number(rng) if country == "US" else foreign_number(rng, country)
        phone_texts.append(obfuscate(national, e164, style, country, rng))
        if e164 not in expected["phones"]:
            expected["phones"].append(e164)
    age_text, age = age_mention(rng)
    opener = rng.choice(POSITIVE_OPENERS)
    city, city2 = rng.choice(CITIES), rng.choice(CITIES)
    if country != "US":
        city = city2 = rng.choice(FOREIGN[country])
    body_parts = [fill(opener, rng, age_text=age_text, city=city, city2=city2)]
    if "{age_text}" in opener:
        expected["ages"].append(age)
    for name in (city, city2):
        named = ("{city}" in opener and name == city) or ("{city2}" in opener and name == city2)
        if named and name not in expected["locations"]:
            expected["locations"].append(name)
    body_parts.append(fill(rng.choice(CONTACT_LINES), rng, phone=phone_texts[0]))
    if n_phones == 2:
        body_parts.append(
            fill(
                rng.choice(["Or {phone}.", "Backup line {phone}", "2nd # {phone}"]),
                rng,
                phone=phone_texts[1],
            )
        )
    for line in rng.sample(EXTRA_LINES, k=rng.randrange(1, 4)):
        if "{email_text}" in line:
            text, value = email_mention(rng)
            expected["emails"].append(value)
            body_parts.append(fill(line, rng, email_text=text))
        elif "{handle_text}" in line:
            text, value = handle_mention(rng)
            expected["handles"].append(value)
            if "/" in text:
                expected["urls"].append(text)
            body_parts.append(fill(line, rng, handle_text=text))
        elif "{url_text}" in line:
            text = url_mention(rng)
            expected["urls"].append(text)
            body_parts.append(fill(line, rng, url_text=text))
        else:
            body_parts.append(fill(line, rng))
    rng.shuffle(body_parts[1:])
    title = rng.choice(
        [
            "{name} ❤️",
            "New listing",
            "Available now",
            "{item} for sale",
            "Hola papi",
            "Sweet and fun",
            "Looking for work",
            "Call me",
        ]
    )
    return {
        "id": f"pos-{idx:04d}",
        "group": "positive",
        "style": style,
        "held_out": held_out,
        "country": country,
        "title": fill(title, rng),
        "body": " ".join(body_parts),
        "expected": expected,
    }


NEGATIVE_TEMPLATES = [
    "2015 Honda Civic, VIN {vin}, {miles} miles, clean title, asking ${price}. Seen {date}.",
    "Textbook: ISBN {isbn13}, like new, ${small}. Also ISBN {isbn10}.",
    "Apartment at {street} Main St, {city}, {state} {zip}. Rent ${price}/mo, deposit ${small}0.",
    "Order #{order} shipped {date}, tracking {tracking}.",
    "Meeting on {date} at {time}, room {room}, building {building}.",
    "Measurements 34C-24-36, 5'{inch}\", {lbs} lbs, size {size}.",
    "Open Mon-Fri {time} - {time2}, Sat 10-2. Since {year}.",
    "Lot size {sqft} sq ft, {beds} beds {baths} baths, built {year}, HOA ${small}/mo.",
    "Rates: 30 min ${small}, 60 min ${price}, 90 min ${price2}. Gift cards available.",
    "Serial no. {serial}, model {model}, purchased {date} for ${price}.",
    "Event {date} {time}-{time2} at {street} Oak Ave, {city} {zip}. Tickets ${small}.",
    "Invoice {order} total ${price}.{cents} due {date}.",
    "Garage sale {date}! {street} Elm St. 8am-2pm. Everything $1-${small}.",
    "Flight {flight} departs {time} on {date}, gate {gate}, seat {seat}.",
    "Part number {part}, fits 2008-2014 models, ${small} shipped.",
    "Coordinates 39.{coord1}, -104.{coord2}; elevation {elev} ft.",
    "Scores: {score1}-{score2}, {score3}-{score4}; season {year}-{year2}.",
    "Dimensions {dim1} x {dim2} x {dim3} cm, weight {kg} kg, {watts} W.",
    "{name} {age_text}, available {date} after {time}, roses {price}, hh {small}.",
    "Population {pop}, area code map updated {date}, ref {ref}.",
    "Bank hours {time} to {time2}; routing {routing} for direct deposit forms only.",
    "Recipe: {small}0 g flour, {beds}00 ml milk, bake at 350F for {mins} minutes.",
    "Account summary {date}: balance ${price}.{cents}, last 4 digits {last4}.",
    "Train {flight} {time} {city} - {time2} {city2}, platform {gate}, {date}.",
    "Census tract {tract}, block group {beds}, {year} estimates: {pop} residents.",
]


def vin(rng: random.Random) -> str:
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return "1" + "".join(rng.choice(chars) for _ in range(16))


def isbn13(rng: random.Random) -> str:
    digits = [9, 7, 8] + [rng.randrange(10) for _ in range(9)]
    check = (10 - sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10) % 10
    s = "".join(map(str, digits + [check]))
    return rng.choice(
        [
            s,
            f"{s[:3]}-{s[3]}-{s[4:7]}-{s[7:12]}-{s[12]}",
            f"{s[:3]}-{s[3:5]}-{s[5:9]}-{s[9:12]}-{s[12]}",
        ]
    )


def isbn10(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(9)]
    check = sum((10 - i) * d for i, d in enumerate(digits)) % 11
    check = (11 - check) % 11
    s = "".join(map(str, digits)) + ("X" if check == 10 else str(check))
    return rng.choice([s, f"{s[0]}-{s[1:4]}-{s[4:9]}-{s[9]}"])


STATES = ["CO", "NE", "KS", "OK", "ID", "NV", "AZ", "CA", "TX", "TN", "WA", "IL", "NY", "FL"]


def negative(rng: random.Random, idx: int) -> dict:
    template = NEGATIVE_TEMPLATES[idx % len(NEGATIVE_TEMPLATES)]
    age_text, age = age_mention(rng)
    city, city2 = rng.choice(CITIES), rng.choice(CITIES)
    body = fill(
        template,
        rng,
        city=city,
        city2=city2,
        vin=vin(rng),
        isbn13=isbn13(rng),
        isbn10=isbn10(rng),
        street=rng.randrange(100, 9999),
        state=rng.choice(STATES),
        order=rng.choice(
            [
                f"{rng.randrange(10**9, 10**10)}",
                f"{rng.randrange(100, 999)}-{rng.randrange(1000000, 9999999)}",
            ]
        ),
        tracking=f"1Z{rng.randrange(10**15, 10**16)}",
        room=rng.randrange(100, 999),
        building=rng.choice("ABCDEFG"),
        size=rng.randrange(0, 14),
        year=rng.randrange(1960, 2026),
        time2=time_text(rng),
        sqft=rng.randrange(800, 9000),
        beds=rng.randrange(1, 6),
        baths=rng.randrange(1, 4),
        price2=rng.choice([300, 350, 400]),
        serial=f"{rng.randrange(10**9, 10**10)}",
        cents=f"{rng.randrange(0, 100):02d}",
        flight=f"{rng.choice(['UA', 'AA', 'DL'])}{rng.randrange(100, 9999)}",
        gate=rng.randrange(1, 40),
        seat=f"{rng.randrange(1, 40)}{rng.choice('ABCDEF')}",
        part=f"{rng.randrange(10**6, 10**7)}-{rng.randrange(100, 999)}",
        coord1=rng.randrange(1000, 9999),
        coord2=rng.randrange(1000, 9999),
        elev=rng.randrange(1000, 9999),
        score1=rng.randrange(0, 40),
        score2=rng.randrange(0, 40),
        score3=rng.randrange(0, 40),
        score4=rng.randrange(0, 40),
        year2=rng.randrange(2000, 2030),
        dim1=rng.randrange(10, 300),
        dim2=rng.randrange(10, 300),
        dim3=rng.randrange(10, 300),
        kg=rng.randrange(1, 90),
        watts=rng.randrange(100, 2000),
        pop=f"{rng.randrange(1, 999)},{rng.randrange(0, 999):03d}",
        ref=rng.randrange(10**5, 10**8),
        routing=f"{rng.randrange(10**8, 10**9)}",
        mins=rng.randrange(20, 60),
        last4=f"{rng.randrange(0, 10000):04d}",
        tract=f"{rng.randrange(1000, 9999)}.{rng.randrange(10, 99)}",
        age_text=age_text,
    )
    title = rng.choice(["For sale", "Info", "Details", "Update", "Notice", "FYI", "Listing"])
    locations = []
    for placeholder, name in (("{city}", city), ("{city2}", city2)):
        if placeholder in template and name not in locations:
            locations.append(name)
    return {
        "id": f"neg-{idx:04d}",
        "group": "negative",
        "style": "negative",
        "held_out": False,
        "country": "US",
        "title": title,
        "body": body,
        "expected": {
            "phones": [],
            "emails": [],
            "handles": [],
            "ages": [age] if "{age_text}" in template else [],
            "urls": [],
            "locations": locations,
        },
    }


def build(n_per_style: int = 9, n_held_out: int = 6, n_negative: int = 125) -> list[dict]:
    rng = random.Random(SEED)
    records = []
    idx = 0
    for style in STYLES:
        for _ in range(n_per_style):
            records.append(positive(rng, idx, style, held_out=False))
            idx += 1
    for style in HELD_OUT_STYLES:
        for _ in range(n_held_out):
            records.append(positive(rng, idx, style, held_out=True))
            idx += 1
    for i in range(n_negative):
        records.append(negative(rng, i))
    return records + build_issue12()


def build_issue12(n_per_style: int = 12, n_per_negative: int = 4) -> list[dict]:
    """The styles issue 12 found missed, and negatives that look like them, from their own
    random stream (ids from 1000 on)."""
    rng = random.Random(ISSUE12_SEED)
    records = []
    idx = 1000
    for style in ISSUE12_STYLES:
        for _ in range(n_per_style):
            records.append(positive(rng, idx, style, held_out=False))
            idx += 1
    for i, template in enumerate(LOOKALIKE_TEMPLATES * n_per_negative):
        records.append(lookalike_negative(rng, 1000 + i, template))
    return records


# numbers that look like the styles issue 12 added: prices after numbers, ranges with "to",
# "2 for 1", symbols between numbers, odd groupings of ids, dates split by dots and slashes
LOOKALIKE_TEMPLATES = [
    "Rates {p1}$ {p2}$ {p3}$, tips welcome.",
    "Everything ${p1}${p2}${p3} this weekend only.",
    "Sizes {a} to {b}, {c} to {d}, {e} to {f} in stock.",
    "2 for 1 today: {p1} for 60, {p2} for 90, {p3} for 120.",
    "Scores {a};{b} {c};{d} {e};{f} this season.",
    "Won {a} games for {b} seasons; ate at {c}.",
    "Open {a} to {b}; Sat {c} to {d}; Sun {e} to {f}!",
    "Shipped {m}/{day}/{y} ; delivered {m2}/{d2}/{y}.",
    "Measurements 34-24-36 @ {lbs} lbs ! size {a}.",
    "Serial no. {s4}-{s4b}-{s4c}; part {s4}-{s4b}-{s2}.",
    "Order {s4}-{s4b}-{s2} total ${p1}.",
    "Over 2thousand happy clients since {y}!",
    "Tickets {p1}$ / {p2}$ / {p3}$ at the door.",
    "Lottery {a} {b} {c} {d} {e} {f} {g} again.",
    "Reno NV 89501 ; Sparks NV 89431 ; open {a} to {b}.",
    "Times {h1}:30 ; {h2}:45 ; {h3}:15 daily.",
]


def lookalike_negative(rng: random.Random, idx: int, template: str) -> dict:
    prices = rng.sample([60, 80, 100, 120, 150, 180, 200, 250, 300, 350], 3)
    small = rng.sample(range(1, 40), 7)
    body = template.format(
        p1=prices[0], p2=prices[1], p3=prices[2],
        a=small[0], b=small[1], c=small[2], d=small[3], e=small[4], f=small[5], g=small[6],
        m=rng.randrange(1, 13), day=rng.randrange(1, 29), m2=rng.randrange(1, 13),
        d2=rng.randrange(1, 29), y=rng.choice([2024, 2025, 2026]), lbs=rng.randrange(100, 180),
        s4=rng.randrange(1000, 9999), s4b=rng.randrange(1000, 9999), s4c=rng.randrange(1000, 9999),
        s2=rng.randrange(10, 99), h1=rng.randrange(1, 12), h2=rng.randrange(1, 12),
        h3=rng.randrange(1, 12),
    )
    return {
        "id": f"neg-{idx:04d}",
        "group": "negative",
        "style": "negative",
        "held_out": False,
        "country": "US",
        "title": rng.choice(["For sale", "Info", "Details", "Update", "Notice"]),
        "body": body,
        "expected": {"phones": [], "emails": [], "handles": [], "ages": [], "urls": [],
                     "locations": ["Reno", "Sparks"] if "Reno" in body else []},
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--keep-first"]:
        # the committed first 401 records came from an earlier revision of this script, which
        # drew them differently: keep them as they are and write the issue 12 records after them
        kept = [line for line in OUT.read_text(encoding="utf-8").splitlines()
                if int(json.loads(line)["id"].split("-")[1]) < 1000]
        records = [json.loads(line) for line in kept] + build_issue12()
    elif not argv:
        records = build()
    else:
        print("usage: make_text_labelled.py [--keep-first]", file=sys.stderr)
        return 2
    with OUT.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
