"""Synthetic, labelled classified ads: the ground-truth corpus behind `vigil generate` (pure logic).

Everything is invented: phone numbers are fictional (exchange 555; adult and organisation ads
use only 555-0100..0199), names are made up, e-mail domains are the reserved example.* ones,
and photos are referenced by id (crops of photographs shipped in PyPI packages; the shell in
streams/photo_pool.py turns a `PhotoRef` into JPEG bytes).

Actors post the ads, so repetition means what it would in the wild:
- ordinary sellers (cars, furniture, electronics, jobs, rentals, pets, services, lessons,
  events, free/wanted): each writes their own text from large phrase pools, may re-post it;
  no two sellers share a long template, phone, e-mail or photo;
- independent adult-services providers: one phone, one city, one age, their own text, no
  trafficking indicators (label `adult`);
- organisations (label `trafficking`, `org_id`): 2-6 phones rotated along a circuit of cities
  (stays of 2-5 days), 1-3 text templates re-used with small edits, a few photos re-posted as
  re-encodes, slight crops and mirrors, several personas (names, ages) on one phone, contacts
  obfuscated; `org` ads carry indicator phrases, `org_light` ads (hard) read like a plain
  adult ad and are found only by linking;
- planted missing-children photos (label `missing_child`): ads whose photo is a re-encoded,
  mirrored copy of a bank photo (`PhotoRef.bank`), inside an organisation or on their own;
- with `hubs`: identifiers shared by unrelated advertisers, as in the wild — a motel's
  front-desk number in six corridor cities (NXX-555-00XX, a line no actor owns) and a few booking /
  screening e-mail addresses that independents and organisations alike put in some of their
  ads (`HUB_*`); linking must not chain through them;
- hard setting only: benign look-alikes (licensed massage, farmers' market, a new dental
  office, 24/7 trades, nannies, coded emoji in ordinary goods, touring businesses that move
  between cities with one phone and one template).

`ground_truth`: label (benign | adult | trafficking | missing_child), org_id (organisation ads
only), kind (see `KINDS`), intended_indicators: lexicon indicator ids the text was written to
carry (detectors/text/lexicon.yaml) plus `contact:obfuscated` and the linking signals an
organisation ad was built to share (`link:phone`, `link:template`, `link:photo`,
`link:circuit`, `link:personas`).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import NamedTuple

PHOTO_POOL_PATH = Path(__file__).parent / "synthetic_photos.json"
START = datetime(2026, 10, 1, tzinfo=UTC)
SPAN_DAYS = 30
DAY_S = 86_400
SOURCE = "synthetic"
DIFFICULTIES = ("easy", "hard")
BANK_PHOTOS = ("chelsea", "coffee", "rocket")  # must match streams.evaluation.photo_pool.BANK_SOURCES

BENIGN_KINDS = ("cars", "furniture", "electronics", "jobs", "rentals", "pets", "services",
                "lessons", "events", "free_wanted")
LOOKALIKE_KINDS = ("lookalike_massage", "lookalike_produce", "lookalike_dental",
                   "lookalike_24_7", "lookalike_nanny", "lookalike_emoji", "lookalike_touring")
KINDS = {
    "benign": BENIGN_KINDS + LOOKALIKE_KINDS,
    "adult": ("independent",),
    "trafficking": ("org", "org_light"),
    "missing_child": ("planted_photo", "planted_photo_org"),
}


class City(NamedTuple):
    name: str
    region: str
    area_codes: tuple[str, ...]


CITIES = (
    City("Seattle", "WA", ("206",)), City("Spokane", "WA", ("509",)),
    City("Boise", "ID", ("208",)), City("Reno", "NV", ("775",)),
    City("Las Vegas", "NV", ("702",)), City("Sacramento", "CA", ("916",)),
    City("Fresno", "CA", ("559",)), City("Phoenix", "AZ", ("602", "480")),
    City("Tucson", "AZ", ("520",)), City("Albuquerque", "NM", ("505",)),
    City("Denver", "CO", ("303", "720")), City("Omaha", "NE", ("402",)),
    City("Des Moines", "IA", ("515",)), City("Kansas City", "MO", ("816",)),
    City("Wichita", "KS", ("316",)), City("Oklahoma City", "OK", ("405",)),
    City("Tulsa", "OK", ("918",)), City("Dallas", "TX", ("214", "469")),
    City("Austin", "TX", ("512", "737")), City("San Antonio", "TX", ("210",)),
    City("Houston", "TX", ("713", "832")), City("Little Rock", "AR", ("501",)),
    City("Memphis", "TN", ("901",)), City("Nashville", "TN", ("615", "629")),
    City("Louisville", "KY", ("502",)), City("Indianapolis", "IN", ("317",)),
    City("Columbus", "OH", ("614",)), City("Birmingham", "AL", ("205",)),
    City("Atlanta", "GA", ("404", "678")), City("Charlotte", "NC", ("704", "980")),
    City("Raleigh", "NC", ("919",)), City("Richmond", "VA", ("804",)),
    City("Jacksonville", "FL", ("904",)), City("Orlando", "FL", ("407", "321")),
    City("Milwaukee", "WI", ("414",)),
)
CITY_BY_NAME = {c.name: c for c in CITIES}
# roads organisations tour along (neighbouring cities in order)
CORRIDORS = (
    ("Seattle", "Spokane", "Boise", "Reno", "Sacramento", "Fresno", "Las Vegas", "Phoenix",
     "Tucson", "Albuquerque"),
    ("Denver", "Omaha", "Des Moines", "Kansas City", "Wichita", "Oklahoma City", "Tulsa",
     "Dallas", "Austin", "San Antonio", "Houston"),
    ("Milwaukee", "Indianapolis", "Louisville", "Nashville", "Memphis", "Little Rock",
     "Birmingham", "Atlanta", "Jacksonville", "Orlando"),
    ("Columbus", "Louisville", "Nashville", "Atlanta", "Charlotte", "Raleigh", "Richmond"),
)
ALL_AREA_CODES = tuple(sorted({code for c in CITIES for code in c.area_codes}))

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ES_DIGITS = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")
KEYCAP = "\ufe0f\u20e3"
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")
LETTER_FOR_DIGIT = {"0": ("O", "o"), "1": ("l", "I")}

# --- photos ----------------------------------------------------------------------------------


class PhotoRef(NamedTuple):
    """One photo as an ad carries it: a pool photo (or a bank photo) and its re-post edit."""

    photo_id: str
    bank: bool = False
    mirror: bool = False
    crop: int = 0  # px cut off each side of the 256 px photo
    quality: int = 80  # JPEG quality


@cache
def photo_pool() -> dict[str, dict]:
    """The distinct ad photos (id -> source photo and crop box), see streams/photo_pool.py."""
    data = json.loads(PHOTO_POOL_PATH.read_text(encoding="utf-8"))
    return {entry["id"]: entry for entry in data["photos"]}


class PhotoSupply:
    """Hands out pool photos, each to one actor only, in a seeded order; None when used up."""

    def __init__(self, rng: random.Random) -> None:
        self._ids = sorted(photo_pool())
        rng.shuffle(self._ids)

    def take(self) -> str | None:
        return self._ids.pop() if self._ids else None


def repost_variants(rng: random.Random, photo_id: str, count: int = 3) -> list[PhotoRef]:
    """Re-post edits of one photo: a plain re-encode, then slight crops and mirrors."""
    variants = [PhotoRef(photo_id, quality=rng.choice((60, 70, 80)))]
    for _ in range(count - 1):
        variants.append(PhotoRef(photo_id, mirror=rng.random() < 0.4,
                                 crop=rng.choice((0, 2, 3, 4)),
                                 quality=rng.choice((55, 65, 75, 85))))
    return variants


def bank_variant(rng: random.Random, name: str) -> PhotoRef:
    """A planted copy of a bank photo: re-encoded, mostly mirrored, at most 1 % cropped."""
    return PhotoRef(name, bank=True, mirror=rng.random() < 0.7, crop=rng.choice((0, 1, 2)),
                    quality=rng.choice((50, 60, 70, 80)))


# --- phones ----------------------------------------------------------------------------------


class PhoneBook:
    """Fictional US numbers, each handed out at most once per corpus (no accidental links)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _take(self, codes: Sequence[str], lines: range, tries: int) -> str | None:
        for _ in range(tries):
            line = self.rng.choice(lines)
            if line == 1212:  # directory assistance
                continue
            number = f"{self.rng.choice(codes)}555{line:04d}"
            if number not in self.used:
                self.used.add(number)
                return number
        return None

    def fictional(self, city: City) -> str:
        """NXX-555-01XX (the range reserved for fiction), near the city when there is room."""
        return (self._take(city.area_codes, range(100, 200), 40)
                or self._take(ALL_AREA_CODES, range(100, 200), 400)
                or self.exchange_555(city))

    def desk(self, city: City) -> str:
        """NXX-555-00XX: a shared front desk (`hubs`); no seller or provider has such a line."""
        return (self._take(city.area_codes, range(0, 100), 60)
                or self._take(ALL_AREA_CODES, range(0, 100), 10_000) or "2025550000")

    def exchange_555(self, city: City) -> str:
        """An area-code-555 number whose line is outside 0100-0199: ordinary sellers' numbers."""
        number = self._take(city.area_codes, range(200, 10_000), 60)
        return number or self._take(ALL_AREA_CODES, range(200, 10_000), 10_000) or "2025550100"


PLAIN_STYLES = ("dashes", "dots", "parens", "bare", "spaces")
OBFUSCATED_STYLES = ("words_en", "words_es", "mixed_words", "letters", "keycap", "zero_width",
                     "star_separators", "emoji_separators", "spaced_digits")


def write_phone(digits: str, style: str, rng: random.Random) -> str:
    """A 10-digit number as an ad writes it (plain styles, or one obfuscation)."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    if style == "dashes":
        return f"{a}-{b}-{c}"
    if style == "dots":
        return f"{a}.{b}.{c}"
    if style == "parens":
        return f"({a}) {b}-{c}"
    if style == "bare":
        return digits
    if style == "spaces":
        return f"{a} {b} {c}"
    if style == "words_en":
        return " ".join(EN_DIGITS[int(d)] for d in digits)
    if style == "words_es":
        return " ".join(ES_DIGITS[int(d)] for d in digits)
    if style == "mixed_words":
        return "".join(EN_DIGITS[int(d)] if rng.random() < 0.4 else d for d in digits)
    if style == "letters":
        swapped = "".join(rng.choice(LETTER_FOR_DIGIT[d]) if d in LETTER_FOR_DIGIT else d
                          for d in digits)
        return f"{swapped[:3]}-{swapped[3:6]}-{swapped[6:]}"
    if style == "keycap":
        return "".join(d + KEYCAP for d in digits)
    if style == "zero_width":
        mark = rng.choice(ZERO_WIDTH)
        return mark.join(digits)
    if style == "star_separators":
        sep = rng.choice(("*", "_", "~", "/"))
        return sep.join((a, b, c))
    if style == "emoji_separators":
        sep = rng.choice(("\U0001f48b", "\u2728", "\U0001f495", "\u2764\ufe0f"))
        return sep.join((a, b, c))
    if style == "spaced_digits":
        return " ".join(digits)
    raise ValueError(f"unknown phone style {style!r}")


# --- phrase expansion ------------------------------------------------------------------------

_SLOT = re.compile(r"\{(\w+)\}")
_ALTERNATIVES = re.compile(r"\{([^{}]*\|[^{}]*)\}")


def expand(template: str, rng: random.Random) -> str:
    """Resolve every `{a|b|c}` choice, nested ones too; slots such as `{name}` are kept for
    `str.format`."""
    text = _SLOT.sub("\x00\\1\x01", template)
    while True:
        resolved = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), text)
        if resolved == text:
            return resolved.replace("\x00", "{").replace("\x01", "}")
        text = resolved


def fill(template: str, rng: random.Random, **slots) -> str:
    return expand(template, rng).format(**slots)


def pick_some(rng: random.Random, pool: Sequence[str], low: int, high: int) -> list[str]:
    return rng.sample(list(pool), min(len(pool), rng.randint(low, high)))


def tidy(text: str) -> str:
    """Collapse runs of spaces, drop spaces before punctuation, capitalise the first letter."""
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", re.sub(r"[ \t]+", " ", text))
    text = re.sub(r" ([,.!?])", r"\1", text).strip()
    return text[:1].upper() + text[1:]


# --- ordinary classifieds --------------------------------------------------------------------

MAKES = {"Honda": ("Civic", "Accord", "CR-V", "Fit", "Odyssey"),
         "Toyota": ("Corolla", "Camry", "RAV4", "Tacoma", "Sienna", "Prius"),
         "Ford": ("F-150", "Escape", "Focus", "Ranger", "Explorer"),
         "Subaru": ("Outback", "Forester", "Impreza", "Crosstrek"),
         "Chevy": ("Silverado", "Malibu", "Equinox", "Tahoe"),
         "Mazda": ("Mazda3", "CX-5", "Miata"), "Nissan": ("Altima", "Frontier", "Rogue"),
         "Jeep": ("Wrangler", "Cherokee"), "VW": ("Jetta", "Golf", "Tiguan")}
FURNITURE = ("sofa", "sectional couch", "oak dining table", "bookshelf", "dresser",
             "queen bed frame", "recliner", "office desk", "coffee table", "bunk beds",
             "kitchen chairs (set of 4)", "TV stand", "patio set", "china cabinet", "futon",
             "standing desk", "nightstands (pair)", "leather armchair", "filing cabinet")
ELECTRONICS = ("MacBook Air", "ThinkPad laptop", "PS5", "Xbox Series S", "55 inch TV",
               "iPad 9th gen", "DSLR camera", "gaming PC", "Bluetooth speaker", "soundbar",
               "mechanical keyboard", "27 inch monitor", "Nintendo Switch", "record player",
               "drone", "e-reader", "mesh wifi system", "projector")
JOBS = ("line cook", "dishwasher", "warehouse associate", "delivery driver", "receptionist",
        "dental assistant", "barista", "forklift operator", "landscaper", "HVAC technician",
        "bookkeeper", "cashier", "painter", "CDL driver", "medical biller", "welder",
        "caregiver", "retail stocker", "veterinary tech", "electrician apprentice")
EMPLOYERS = ("family-owned diner", "distribution center", "auto shop", "dental practice",
             "coffee roaster", "property management company", "roofing company",
             "regional grocery chain", "print shop", "assisted living community",
             "moving company", "machine shop", "pet hospital", "bakery")
PETS = ("lab mix", "tabby cat", "beagle", "border collie", "pair of guinea pigs", "parakeet",
        "husky", "rabbit", "corgi mix", "senior cat", "bearded dragon", "goldendoodle",
        "pit bull mix", "cockatiel", "ferret")
SERVICES = ("lawn mowing", "house cleaning", "handyman repairs", "moving help", "gutter cleaning",
            "computer repair", "wedding photography", "tax preparation", "pressure washing",
            "furniture assembly", "dog walking", "snow removal", "tile and grout repair",
            "piano tuning", "bike repair", "resume writing", "junk hauling", "window washing")
LESSONS = ("piano", "guitar", "violin", "swimming", "algebra and geometry", "Spanish",
           "chess", "drawing", "SAT prep", "ukulele", "voice", "coding for kids", "knitting",
           "pottery", "French", "chemistry")
EVENTS = ("garage sale", "church bake sale", "community 5K", "craft fair", "book swap",
          "high school musical", "blood drive", "chili cook-off", "open mic night",
          "estate sale", "trivia night", "farm tour", "quilt show", "library used book sale",
          "car wash fundraiser", "dog adoption day")
FREE_WANTED = ("firewood", "moving boxes", "old piano", "bags of mulch", "kids books",
               "scrap metal", "working lawn mower", "used bikes", "canning jars", "fence panels",
               "baby clothes", "sewing machine", "fish tank", "fridge that works")
PET_NAMES = ("Biscuit", "Juniper", "Moose", "Pickles", "Clementine", "Rufus", "Waffles", "Pepper",
             "Hazel", "Otis", "Mochi", "Ziggy", "Bean", "Nacho", "Willow", "Gus", "Tofu", "Marble",
             "Scout", "Dumpling", "Ollie", "Peanut", "Sprout", "Boomer", "Kiwi", "Fig")
STREETS = ("Maple", "Oak", "Elm", "Cedar", "Pine", "Lincoln", "Washington", "Lake", "Hill",
           "Park", "Main", "Walnut", "Sunset", "River", "Highland", "Mill", "Church", "Spring")
SURNAMES = ("Alder", "Brennan", "Castillo", "Dunmore", "Ellery", "Fairbanks", "Garrow", "Hollis",
            "Ibarra", "Jessup", "Kettering", "Lindqvist", "Marlow", "Norcross", "Okafor",
            "Pendleton", "Quayle", "Rasmussen", "Sorensen", "Thackeray", "Underhill", "Vasquez",
            "Whitcombe", "Yardley", "Zelinski", "Abernathy", "Bramwell", "Corwin", "Delacroix")
HANDLE_WORDS = ("blue", "river", "maple", "north", "quiet", "sunny", "tiger", "oak", "red", "fox",
                "pine", "stone", "happy", "lucky", "cedar", "harbor", "prairie", "copper")

CONDITIONS = ("{like new|barely used|in great shape|gently used|in good working order|"
              "a little worn but solid|well cared for}")
SALE_KINDS = ("cars", "furniture", "electronics")
GENERIC_LOGISTICS = (
    "{Cash only|Cash or Venmo|Cash, Zelle or PayPal} {please|thanks}.",
    "{Pickup only|Local pickup only|You pick up}, {near|close to} {street} {St|Ave|Rd}.",
    "{No holds|Can't hold it} without a deposit.",
    "{First come first served|First to show up with cash takes it}.",
    "{Available|Can meet} {weekday} {evening|after 5|morning|afternoon}.",
    "{Serious buyers only|No lowballers please|Reasonable offers considered|Price is firm}.",
    "{If the ad is up, it's available|Still available as of today}.",
    "{Happy to send more pictures|More photos on request|Can send a video}.",
    "{Smoke-free home|Pet-free, smoke-free house|No pets, no smokers in the house}.",
    "{Can deliver within 10 miles for a small fee|Delivery possible for gas money}.",
    "{Meet at the police station parking lot|We can meet at a public place} for safety.",
    "{Moving out of state|Downsizing|Cleaning out the garage|Redoing the room} so it has to go.",
)
GENERIC_CONTACT = (
    "{Call or text|Text|Call} {phone}{.| anytime.| after 9am.| evenings.}",
    "{Reach me at|Contact|Questions?} {phone}.",
    "{Text is best|Texts preferred}: {phone}.",
    "{Ask for|This is} {first}, {phone}.",
)
EMAIL_CONTACT = ("{Email|E-mail me at|Write to} {email}.",
                 "{Questions? email|Send a note to} {email}.")
SITE_CONTACT = ("{Reply through the site|Message me here|Use the reply button}.",
                "{Respond to this ad|Reply here} with your {number|name}.")
FIRST_NAMES = ("Dave", "Maria", "Kevin", "Linda", "Tom", "Priya", "Carlos", "Jen", "Mike", "Ana",
               "Greg", "Beth", "Luis", "Karen", "Sam", "Ruth", "Omar", "Tina", "Bill", "Mei")


def _car(rng: random.Random) -> tuple[str, list[str], dict]:
    make = rng.choice(list(MAKES))
    slots = {"make": make, "model": rng.choice(MAKES[make]), "year": rng.randint(2004, 2022),
             "miles": f"{rng.randint(28, 230)},{rng.randint(0, 999):03d}",
             "price": f"{rng.randint(22, 310) * 100:,}"}
    title = rng.choice(("{year} {make} {model} - ${price}", "{make} {model} {year}, {miles} mi",
                        "{year} {model} for sale", "{make} {model} ({year}) obo"))
    details = pick_some(rng, (
        "{year} {make} {model} with {miles} miles{,| on it|, mostly highway}.",
        "{Runs and drives great|Runs strong|Drives like new|Starts every time}.",
        "{New tires|Brand new brakes|New battery|Fresh alternator} {last spring|in June|"
        "this year}.",
        "{Clean title in hand|Clean title, no accidents|Title in my name}.",
        "{Minor scratch on the rear bumper|Small dent on the passenger door|Some rust on the wheel "
        "wells|Paint faded on the roof}.",
        "{Oil changed every 5k|Maintenance records available|Dealer serviced}.",
        "{Cold AC|Heated seats|Backup camera|Tow package|Third row seating}.",
        "{Timing belt done at 90k|Transmission rebuilt two years ago|Water pump replaced}.",
        "{Automatic|Manual six speed|Automatic, all wheel drive}, {gray|blue|white|black|red} "
        "{cloth|leather} interior.",
        "{Selling because I got a company car|Need something bigger for the family|"
        "Bought a truck, don't need two cars}.",
        "{Emissions passed last month|Registration good until spring|Inspection current}.",
        "Asking ${price}.",
    ), 3, 6)
    return title, details, slots


def _item_sale(rng: random.Random, items: Sequence[str], kind: str) -> tuple[str, list[str], dict]:
    slots = {"item": rng.choice(items), "price": rng.randint(5, 1500) // 5 * 5,
             "cond": expand(CONDITIONS, rng), "years": rng.randint(1, 9),
             "w": rng.randint(20, 90), "h": rng.randint(14, 80)}
    title = rng.choice(("{item} - ${price}", "{item} for sale", "{Item} {cond}", "Selling {item}",
                        "{item}, ${price} obo", "{item} {must go|need gone|moving sale}"))
    title = title.replace("{Item}", slots["item"].capitalize())
    pool = [
        "{Selling|Letting go of|For sale:} {our|my} {item}, {cond}.",
        "{Bought it|Had it} {years} years ago{,| and} {hardly used it|used it daily until "
        "recently}.",
        "${price} or best offer.", "Asking ${price}{.|, firm.|, cash.}",
        "{Works perfectly|Everything works|No issues at all|Tested and working}.",
    ]
    if kind == "furniture":
        pool += ["About {w} x {h} inches.",
                 "{Comes apart for transport|Legs unscrew|Fits in an SUV}.",
                 "{Some scuffs on the legs|A small stain on one cushion|Minor wear on the "
                 "corners}.",
                 "{You haul|Bring a truck and a friend|Can help load}."]
    else:
        pool += ["{Comes with the original box|Includes charger and case|All cables included}.",
                 "{Factory reset and ready to go|Battery holds a good charge|Screen has no "
                 "scratches}.",
                 "{Upgraded, so this one is spare|Got a new one as a gift|Switched brands}."]
    return title, pick_some(rng, pool, 3, 6), slots


def _job(rng: random.Random) -> tuple[str, list[str], dict]:
    low = rng.randint(15, 30)
    slots = {"role": rng.choice(JOBS), "employer": rng.choice(EMPLOYERS), "low": low,
             "high": low + rng.randint(2, 8),
             "days": rng.choice(("Mon-Fri", "weekends", "four tens", "rotating shifts"))}
    title = rng.choice(("Now hiring: {role}", "{role} wanted", "Hiring {role} - ${low}-{high}/hr",
                        "{role} position open", "Part-time {role}"))
    details = pick_some(rng, (
        "{Our|A local} {employer} is {looking for|hiring} a {role}.",
        "Pay ${low}-{high}/hr {depending on experience|DOE|plus tips}.",
        "Schedule: {days}{.|, some overtime.|, flexible start time.}",
        "{Benefits after 90 days|Health, dental and paid time off|401k with match}.",
        "{No experience needed, we train|One year of experience preferred|Must have a valid "
        "license}.",
        "{Apply in person|Send a resume|Stop by for an interview} {weekday} {morning|afternoon}.",
        "{Background check required|Must pass a drug screen|Must be able to lift 50 lbs}.",
        "{Friendly team|Steady hours year round|Weekly pay}.",
    ), 3, 6)
    return title, details, slots


def _rental(rng: random.Random) -> tuple[str, list[str], dict]:
    beds = rng.randint(1, 4)
    areas = ("north side", "downtown", "near the university", "east of the river", "old town")
    slots = {"beds": beds, "baths": rng.choice((1, 1.5, 2)), "rent": rng.randint(7, 32) * 50,
             "sqft": rng.randint(5, 22) * 100, "area": rng.choice(areas)}
    title = rng.choice(("{beds}BR/{baths}BA ${rent}", "{beds} bedroom for rent, {area}",
                        "Room for rent ${rent}", "{beds} bed house {area}", "Apartment ${rent}/mo"))
    details = pick_some(rng, (
        "{beds} bed, {baths} bath, about {sqft} sq ft, {area}.",
        "${rent}/month{,| plus utilities,| with water and trash included,} {12 month lease|"
        "month to month|6 month lease}.",
        "{Washer and dryer in unit|Laundry on site|Hookups for washer and dryer}.",
        "{Off-street parking|One covered parking spot|Street parking only}.",
        "{Cats ok, no dogs|Pets negotiable|No pets please|Small dogs welcome}.",
        "{Available November 1|Move in now|Available mid-month}.",
        "{Security deposit equal to one month|Application fee $35|Credit check required}.",
        "{Quiet building|Close to the bus line|Walk to the grocery store|Fenced backyard}.",
        "{Hardwood floors|New carpet|Updated kitchen|Granite counters|Dishwasher and microwave}.",
        "{Central air|Window units|Ceiling fans in every room|Gas heat}.",
        "{Owner lives nearby|Managed by a small local company|Maintenance on call}.",
        "{Showings {weekday} evening|Call to set up a showing|Virtual tour available}.",
    ), 4, 7)
    return title, details, slots


def _pet(rng: random.Random) -> tuple[str, list[str], dict]:
    slots = {"pet": rng.choice(PETS), "age": rng.randint(1, 12),
             "fee": rng.choice((0, 25, 50, 100)), "petname": rng.choice(PET_NAMES)}
    title = rng.choice(("Rehoming {pet}", "{pet} needs a new home", "Free to good home: {pet}",
                        "{pet}, {age} years old"))
    details = pick_some(rng, (
        "{We are rehoming|Looking for a home for} our {pet}, {age} {years old|yrs}.",
        "{Up to date on shots|Vaccinated and fixed|Microchipped and spayed}.",
        "{Good with kids|Great with other dogs|Not good with cats|Best as an only pet}.",
        "{Rehoming fee ${fee}|Small adoption fee|Fee goes to the shelter}.",
        "{House trained|Litter trained|Crate trained}.",
        "{Landlord won't allow pets|Allergies in the family|Moving overseas}, {sadly|"
        "unfortunately}.",
        "{Comes with food and toys|Cage and supplies included|Bed and leash included}.",
        "{petname} is {a sweetheart|shy at first|full of energy|a couch potato|very gentle}.",
        "{Loves|Enjoys|Lives for} {long walks|belly rubs|playing fetch|sunny windows|car rides}.",
        "{Needs a yard|Fine in an apartment|Would do best with a retired couple|Wants a quiet "
        "home}.",
        "{Vet records included|Last vet visit in August|Teeth cleaned this summer}.",
    ), 3, 6)
    return title, details, slots


def _service(rng: random.Random, items: Sequence[str], kind: str) -> tuple[str, list[str], dict]:
    slots = {"svc": rng.choice(items), "rate": rng.randint(15, 90), "years": rng.randint(2, 25)}
    if kind == "lessons":
        title = rng.choice(("{svc} lessons", "{svc} tutor available", "Learn {svc}",
                            "{svc} lessons for all ages"))
        pool = ("{I teach|Offering} {svc} {lessons|tutoring} {for beginners|for all levels|for "
                "kids and adults}.", "{years} years of {teaching|experience}.",
                "${rate} per {hour|lesson|half-hour lesson}.",
                "{At your home or mine|Online or in person|At the community center}.",
                "{First lesson free|Sibling discount|Package of ten available}.",
                "{Patient and encouraging|Structured but fun|Tailored to each student}.",
                "{Recitals twice a year|Progress reports monthly|Homework kept light}.",
                "{Degree in music education|Certified teacher|Former college instructor}.")
    else:
        title = rng.choice(("{svc}", "{svc} - fair prices", "Affordable {svc}",
                            "{svc}, free estimates"))
        pool = ("{Reliable|Affordable|Honest|Local} {svc}{.|, done right.}",
                "{years} years in business{.|, references available.}",
                "{Free estimates|Quotes over the phone|No job too small}.",
                "{Starting at|Rates from} ${rate}{/hr| per visit}.",
                "{Licensed and insured|Fully insured|Bonded}.",
                "{Evenings and weekends available|Same week scheduling|Book a slot this week}.",
                "{Serving {street} Ave and nearby streets|All over the metro|Within 20 miles}.",
                "{Ask about senior discounts|Veteran owned|Family run since the 90s}.",
                "{Photos of past work on request|Check my reviews|Happy customers all over town}.")
    return title, pick_some(rng, pool, 3, 5), slots


def _event(rng: random.Random) -> tuple[str, list[str], dict]:
    slots = {"event": rng.choice(EVENTS), "hour": rng.randint(7, 11), "street": rng.choice(STREETS)}
    title = rng.choice(("{event} this {weekday}", "{event} - all welcome", "{Event} {weekday}",
                        "Community {event}"))
    title = title.replace("{Event}", slots["event"].capitalize())
    details = pick_some(rng, (
        "{Join us for|Come out to|Don't miss} the {event} this {weekday}.",
        "Starts at {hour} am at {street} {Park|Community Center|Elementary}.",
        "{Free admission|Entry $5, kids free|Donations welcome}.",
        "{Family friendly|Bring the kids|Rain or shine}.",
        "{Proceeds go to the food bank|Supports the youth soccer league|Funds the library}.",
        "{Parking in the back lot|Street parking available|Bike racks at the entrance}.",
    ), 3, 5)
    return title, details, slots


def _free_wanted(rng: random.Random) -> tuple[str, list[str], dict]:
    slots = {"thing": rng.choice(FREE_WANTED), "price": rng.randint(5, 120),
             "n": rng.randint(2, 40)}
    if rng.random() < 0.5:
        title = rng.choice(("Free {thing}", "FREE: {thing}", "{thing} - free, you haul"))
        pool = ("{Giving away|Free to whoever wants|Curbside} {thing}.",
                "{Must pick up by Sunday|Goes to the dump Friday otherwise|On the porch now}.",
                "{No need to ask if available|Just take it|Please take all of it}.",
                "{About|Roughly|Maybe} {n} {boxes|bags|pieces|loads} {of it|total|in all}.",
                "{Been sitting in the garage|Left over from a project|From my late dad's shop|"
                "Cleared out of the basement}.",
                "{Text before coming|Porch pickup, no need to knock|Behind the blue shed}.")
    else:
        title = rng.choice(("Wanted: {thing}", "Looking for {thing}", "ISO {thing}"))
        pool = ("{Looking for|In search of|Want to buy} {thing}.",
                "{Will pay up to ${price}|Can pay cash|Happy to trade}.",
                "{Can pick up|Have a truck|Will come to you}.",
                "{For a school project|For my garden|For a church drive|For my nephew}.",
                "{Condition doesn't matter much|Should be in decent shape|Fixer-uppers ok}.")
    return title, pick_some(rng, pool, 3, 4), slots


def compose_benign(rng: random.Random, kind: str) -> tuple[str, str, dict]:
    """Title, body (with a `{contact}` slot) and slots of one seller's ordinary ad."""
    if kind == "cars":
        title, details, slots = _car(rng)
    elif kind in ("furniture", "electronics"):
        title, details, slots = _item_sale(rng, FURNITURE if kind == "furniture" else ELECTRONICS,
                                           kind)
    elif kind == "jobs":
        title, details, slots = _job(rng)
    elif kind == "rentals":
        title, details, slots = _rental(rng)
    elif kind == "pets":
        title, details, slots = _pet(rng)
    elif kind in ("services", "lessons"):
        title, details, slots = _service(rng, SERVICES if kind == "services" else LESSONS, kind)
    elif kind == "events":
        title, details, slots = _event(rng)
    else:
        title, details, slots = _free_wanted(rng)
    slots = {**slots, "weekday": rng.choice(WEEKDAYS), "street": rng.choice(STREETS)}
    logistics = pick_some(rng, GENERIC_LOGISTICS, 1, 2) if kind in SALE_KINDS else []
    sentences = details + logistics + ["{contact}"]
    body = " ".join(fill(s, rng, **slots, contact="{contact}") for s in sentences)
    return fill(title, rng, **slots), body, slots


# --- hard-setting benign look-alikes ---------------------------------------------------------

LOOKALIKES = {
    "lookalike_massage": (
        ("Licensed massage therapist - new clients", "LMT accepting new clients",
         "Therapeutic massage, licensed"),
        ("{Licensed massage therapist|LMT} ({state} license #MT{num}).",
         "{Deep tissue|Swedish|Sports|Prenatal} and {trigger point|myofascial|hot stone} work.",
         "{New in town|New to the area|Just relocated here} and {building my practice|accepting "
         "new clients|opening my schedule}.",
         "{Office on|Studio at} {street} {St|Ave}, {appointments only|by appointment}.",
         "{HSA cards accepted|Insurance receipts provided|Gift certificates available}.",
         "{Open 7 days a week|Evening appointments available|Early morning slots}.",
         "{Trained at the {state} School of Massage|Ten years in sports clinics|Former physical "
         "therapy aide}.", "{Sessions of 60 or 90 minutes|Intake form before the first visit|"
         "Draping always used}.", "{Parking behind the building|Second floor, suite {num2}|"
         "Wheelchair accessible}.")),
    "lookalike_produce": (
        ("Fresh cherries at the farmers market", "Fresh produce this Saturday", "U-pick cherries"),
        ("{Fresh|Sweet} {cherries|strawberries|peaches} \U0001f352 {picked this morning|just in}.",
         "{Young greens|Baby spinach and young lettuce|Fresh herbs and young carrots} too.",
         "{Farmers market|Our farm stand} {open Saturday 8-1|on {street} Ave every weekend}.",
         "{Fresh eggs|Local honey|Fresh bread} {while they last|every week}.",
         "{Cash, card and SNAP accepted|Bring your own bags}.",
         "{Family farm since 1962|Grown without sprays|Third generation growers}.",
         "{Jam and pies by the jar|Cut flowers by the bunch|Pumpkins coming soon}.",
         "{Stall {num2} by the fountain|Look for the green tent|Next to the coffee cart}.")),
    "lookalike_dental": (
        ("New dental office in town!", "Now accepting new patients", "Family dentistry now open"),
        ("{New dental office|New family dental practice} {in town|downtown}! Dr. {surname}, DDS.",
         "{Accepting new patients|New patients welcome}, {kids and adults|all ages}.",
         "{Cleanings, fillings and whitening|Crowns \U0001f451 and implants|Emergency visits}.",
         "{Most insurance accepted|Payment plans available|New patient special ${rate}}.",
         "{Open Saturdays|Evening hours Tuesday and Thursday}.",
         "{Gentle care for nervous patients|Kids get a free toothbrush|Same day crowns}.",
         "{Located next to the library|Suite {num2} in the {street} plaza|Free parking}.",
         "{Dr. {surname} trained in Ohio|Our hygienists have 20 years combined|Spanish "
         "spoken}.")),
    "lookalike_24_7": (
        ("24/7 emergency locksmith", "24/7 towing", "Plumber available 24/7"),
        ("{24/7|24 hours} {emergency locksmith|towing and roadside|emergency plumbing} service.",
         "{Locked out?|Broken down?|Burst pipe?} We {come to you|are there in 30 minutes}.",
         "{Licensed and insured|Bonded and insured}, {years} years {serving the area|in business}.",
         "{Day and night|Nights and weekends}, {no extra charge|flat rates}.",
         "{Fair prices|Upfront pricing}, {no hidden fees|free quotes}.",
         "{Rekeying and lock changes|Jump starts and tire changes|Water heaters and drains} too.",
         "{Veteran owned|Family run|Local, not a call center}.",
         "{Serving {street} and the whole county|All of the metro area|Within 40 miles}.")),
    "lookalike_nanny": (
        ("Experienced nanny available", "Nanny wanted for two girls", "Babysitter, CPR certified"),
        ("{Experienced nanny|Babysitter}, {age}, {CPR and first aid certified|former preschool "
         "aide}.",
         "{Last family had two girls, ages {kid1} and {kid2}|Looking after kids ages {kid1} to "
         "{kid2}}.",
         "{Homework help, meals and school pickup|Light housekeeping and bedtime routines}.",
         "{References available|Background check on file}.",
         "{Weekdays after school|Full time or part time}, ${wage}/hr.",
         "{Own car|Non-smoker|Comfortable with pets}, {bilingual|swims well|good cook}.",
         "{Studying early childhood education|Mom of a grown son|Big sister of five}.")),
    "lookalike_emoji": (
        ("Rose bushes for sale", "Cherry wood dresser", "Lollipop candy bouquets",
         "Crown molding installed"),
        ("{Rose bushes \U0001f339 in 3 gallon pots|Cherry \U0001f352 wood dresser, six drawers|"
         "Lollipop \U0001f36d candy bouquets for parties|Crown \U0001f451 molding installed}.",
         "{Healthy plants, blooming now|Solid wood, dovetail joints|Custom colors and names|"
         "Clean miters, painted to match}.",
         "${rate} {each|or best offer|per room|per dozen}.",
         "{Pickup on {street} St|Delivery available|Orders take two days}.",
         "{Photos on request|Can send measurements|See it before you buy}.",
         "{Great gift idea|Perfect for a new home|Makes a room}.",
         "{Made by hand here in town|Bought new two years ago|Grown in my backyard}.")),
}
TOURING_BUSINESSES = (
    ("Big top circus", "Circus tickets", "{Family circus|Big top circus} in town until {day}! "
     "Shows {nightly|at 4 and 7}, {acrobats, jugglers and clowns|trapeze and trick riders}. "
     "{Next stop {next_city}|Then on to {next_city}}. {Kids under 3 free|Tickets at the gate}. "
     "{contact}"),
    ("Antique and collectibles show", "Antique show", "{Traveling antique show|Antique and "
     "collectibles road show} in town until {day}. {Over 80 dealers|Furniture, coins, vintage "
     "toys}, {free appraisals|cash for your gold}. {Heading to {next_city} next|Next stop "
     "{next_city}}. {contact}"),
    ("Storm repair crew", "Roofing crew in town", "{Licensed roofing crew|Storm damage repair "
     "crew} in town until {day}, {free inspections|insurance claims help}. {We move on to "
     "{next_city} next week|Leaving for {next_city} soon}, book now. {contact}"),
    ("Food truck tour", "Food truck", "{Taco truck|BBQ food truck|Crepe truck} on tour: in town "
     "until {day} at the {fairgrounds|brewery lot}. {Next stop {next_city}|Then {next_city}}. "
     "{Open 11-8|Lunch and dinner}. {contact}"),
)


def compose_lookalike(rng: random.Random, kind: str) -> tuple[str, str, dict]:
    titles, sentences = LOOKALIKES[kind]
    kid1 = rng.randint(3, 9)
    slots = {"state": rng.choice(("state", "CO", "TX", "GA")), "num": rng.randint(10_000, 99_999),
             "street": rng.choice(STREETS), "surname": rng.choice(SURNAMES),
             "rate": rng.randint(20, 150), "years": rng.randint(3, 30), "age": rng.randint(19, 45),
             "kid1": kid1, "kid2": kid1 + rng.randint(1, 5), "num2": rng.randint(2, 40),
             "wage": rng.randint(14, 30)}
    chosen = [sentences[0]] + pick_some(rng, sentences[1:], 3, 5)
    body = " ".join(fill(s, rng, **slots) for s in chosen) + " {contact}"
    return fill(rng.choice(titles), rng), body, slots


# --- adult-services text ---------------------------------------------------------------------

PERSONA_NAMES = ("Amber", "Bella", "Candy", "Destiny", "Gigi", "Kitty", "Lola", "Mia", "Nina",
                 "Roxy", "Sasha", "Tina", "Vicky", "Zoe", "Jade", "Coco", "Luna", "Star", "Honey",
                 "Skye", "Paris", "Brandy", "Crystal", "Diamond", "Angel", "Jasmine", "Ruby",
                 "Ivy", "Layla", "Nikki", "Bambi", "Trixie", "Lexi", "Kiki", "Daisy", "Summer",
                 "Raven", "Sienna", "Mimi", "Dolly", "Bianca", "Tiana", "Selena", "Aria")
INDEPENDENT_NAMES = ("Vivienne", "Simone", "Celeste", "Margot", "Juliette", "Helena", "Audrey",
                     "Natalia", "Camille", "Eleanor", "Scarlett", "Genevieve", "Sabrina",
                     "Monique", "Claudia", "Isabelle", "Delphine", "Rosalind", "Colette", "Yvette",
                     "Noelle", "Serena", "Lorraine", "Danielle", "Ingrid", "Marisol", "Tamara",
                     "Veronica", "Odette", "Francesca", "Beatrix", "Lucinda", "Anouk", "Greta")
# plain adult-services sentences (no lexicon indicator); slots: {name} {age} {city}
# light organisations and independents draw names from one pool: names must not give them away
ADULT_NAMES = PERSONA_NAMES + INDEPENDENT_NAMES
ADULT_SENTENCES = (
    "{Hello gentlemen|Good evening gentlemen|Hello gents|Hi there|Hello}, I'm {name}, "
    "{{age} years old|age {age}|{age} yrs old}.",
    "{Independent|Independent and private|Self-managed} companion {based in|living in} {city}.",
    "{Warm|Sophisticated|Easygoing|Playful} and {discreet|attentive|well read}, {I enjoy|I love} "
    "{good conversation|slow evenings|dinner dates} {and unhurried time|before anything else}.",
    "{Incall and outcall|Outcall to hotels and homes|Incall in a quiet upscale apartment}.",
    "{Upscale gentlemen only|Respectful gentlemen preferred|Mature clients preferred}.",
    "{Appointments with notice|Same day bookings when I can|Book a day ahead if possible}.",
    "{Reviews available|Verified on the usual sites|Ask about my references}.",
    "{Fit and curvy|Petite brunette|Tall blonde|Curvy redhead|Athletic and tan}, {5'4|5'6|5'8}, "
    "{natural|tattoo free|a few tattoos}.",
    "{Unhurried sessions|No rush appointments|Relaxed pace}, {clean private place|your place or "
    "mine}.",
    "{Dinner dates and overnights|Travel companion on request|Extended dates welcome}.",
    "{Rates on request|Ask about rates by text|Rates in my profile}.",
    "{Kind, clean and respectful please|Manners matter|Hygiene is a must}.",
    "{I look forward to meeting you|Hope to see you soon|Looking forward to it}{.|!| \U0001f48b}",
    "{Sensual massage and companionship|Companionship and conversation|GFE experience}.",
    "{Private and discreet|Discretion guaranteed|Your privacy matters to me}.",
)
# hub identifiers (`--hubs`): shared by unrelated advertisers. A fifth of independents and
# organisations use them, in a third of their ads
HUB_ACTOR_SHARE = 0.2
HUB_AD_SHARE = 0.35
# the motels whose front desks advertisers share: one per city on every corridor's route
HUB_DESK_CITIES = ("Las Vegas", "Phoenix", "Dallas", "Houston", "Nashville", "Atlanta")
HUB_DESK_LINES = ("{Staying at|Room at|In room at} the {Airport|Downtown|Starlite|Budget} "
                  "{Inn|Motel|Lodge}, front desk {phone}, ask for {name}.",
                  "{Incall|Incalls} at the motel, call the {desk|front desk} {phone} and ask for {name}.")
HUB_EMAILS = ("bookings@screening-desk.example.net", "verify@safedate-check.example.org",
              "appointments@citybookings.example.com")
HUB_EMAIL_LINES = ("{Screening|Verification} through {email}.", "{Book|Bookings} via {email}.",
                   "{References|Verified} {via|at} {email}.")
ADULT_CONTACT = ("{Text|Call or text|Text only} {phone}{.| to book.| for appointments.}",
                 "{Book with|Reach me at|Contact me at} {phone}.",
                 "{phone} {text only|texts preferred|call after 11am}.")
ADULT_TITLES = ("{name} - independent companion in {city}", "{Upscale|Classy|Sweet} {name}, {age}",
                "{name} available in {city}", "{Sensual|Relaxing} time with {name}",
                "{name} {age} {upscale companion|private companion}")
# weak jargon some independents use (hard setting): (sentence, indicator id)
ADULT_JARGON = (("{Screening required|Screening required for new friends}.", "screening_avoidance"),
                ("{Donations|Roses} discussed by text.", "coded_payment"))

# organisation sentences by role; slots: {name} {age} {city} {day} {next_city} {phone}
ORG_INTROS = (
    "{Hi guys|Hey gentlemen|Hello daddy|Hey boys} its {name}{,| here,} {age} {years old|y/o|yo}.",
    "{Sexy|Sweet|Lovely|Pretty} {name}, {age} {years old|yo}, {is here|is available|waiting for "
    "you}.",
    "{Meet|Come see} {name}, age {age}, {petite|curvy|slim|tall} and {playful|fun|sweet}.",
    "{name} {age} {yo|y/o} {sweet treat|best in town|real pics}.",
    "{Upscale|VIP|Top} {party girl|playmate|companion} {name}, {age} years old.",
    "{Sexy|Beautiful} {name} {age} {years old|yo} {here for you|ready to play}.",
)
ORG_BODY = (
    "{Soft skin|Sweet smile|Great body}, {real pics|100% real photos|what you see is what "
    "you get}.",
    "{Clean private place|Discreet hotel room|Nice quiet spot}{ near the highway| close to "
    "the mall|}.",
    "{Generous gentlemen|Generous men} {only|preferred}, {no rush|take your time}.",
    "{Specials|Evening specials|Weekday specials} {all day|today only|this week}.",
    "{Sexy body|Playful attitude} and {good vibes|fun times|sweet kisses}.",
    "{Treat you right|Make your day|Make you relax} {guaranteed|every time}.",
    "{Satisfaction guaranteed|Come see me|Come play}.",
    "{Private meeting|Private fun} {any day|every day} {in {city}|this week}.",
    "{Kisses|Sexy outfits|Lingerie} {and more|for you}.",
)
ORG_INDICATOR_LINES = {
    "youth_coded": ("{New girl|Young and fresh|Fresh face} {just turned legal|very young|so "
                    "sweet} \U0001f352.",
                    "{Young|Fresh|Sweet young} {new face|first time here} \U0001f36d.",
                    "{Tiny|Petite} and {young|fresh}, {new to this|first timer}."),
    "new_in_town": ("{Just arrived|New in town|Brand new in town} {{city}|this week}.",
                    "{Just landed in {city}|New to the area}."),
    "short_stay_touring": ("{In town until|Only here until|In town till} {day}, {leaving for|"
                           "heading to|next stop} {next_city}.",
                           "{Leaving soon|Here for a few days}, {next stop|heading to} "
                           "{next_city} {day}."),
    "manager_books": ("{Ask for my manager|Call my manager|Text my manager} to book.",
                      "{My daddy|My manager} {will answer|takes the calls}, {ask for daddy|be "
                      "respectful}.", "{Talk to my friend to book|My booker answers}."),
    "available_24_7": ("{Available 24/7|24/7|24 hrs|Available all night long}.",
                       "{Day and night|Always available} {24/7|7 days a week}."),
    "limited_english": ("{Little english|No english|Speak little english}, {text please|"
                        "be patient}.", "{Poco ingles|Broken english}, {text only|sweet girl}."),
    "incall_only": ("{Incall only|In call only}{, no outcall|}.",
                    "{My place only|Incall only}, {no outcall|clean place}."),
    "multiple_workers": ("{Many girls|Different girls|New girls every week} {available|to "
                         "choose}.", "{Ask about my friends|Me and my friend} {available|duo "
                         "available}."),
    "coded_emoji_money": ("{Roses|Donations} \U0001f339\U0001f339 {only|upfront}.",
                          "\U0001f339 {only|please} {no games|no time wasters}."),
    "coded_control_emoji": ("\U0001f451 {VIP|Queen} {treatment|service} \U0001f451.",
                            "{Text|Ask} the \U0001f451 {first|to book}."),
    "law_enforcement_avoidance": ("{No cops|No LE|No law enforcement}{, no games|}.",
                                  "{Not affiliated with law enforcement|No police}."),
}
ORG_CONTACT = ("{Text|Call} {phone}{ now| to book|}.", "{Book now|Call now} {phone}.",
               "{phone} {call or text|text only|text me}.", "{Contact|Ask for me at} {phone}.")
ORG_TITLES = ("{name} {age} {tonight|in {city}|this week}", "{Sexy|Sweet} {name} {age}",
              "{name} - {fun|sweet|hot} {city}", "{Hot|Sweet} {name} {available|here now}")
ORG_EMOJI = ("\U0001f48b", "\U0001f525", "\U0001f4a6", "\U0001f351", "\u2728", "\U0001f496",
             "\U0001f608", "\U0001f495")
ORG_WORD_SWAPS = {"guys": "gents", "gentlemen": "gents", "sweet": "sexy", "fun": "playful",
                  "private": "quiet", "pretty": "cute", "relax": "unwind",
                  "nice": "cozy", "generous": "kind", "book": "schedule", "today": "tonight"}


_PAYMENT_WORDS = re.compile(r"\b(?:roses|donations)\b", re.IGNORECASE)


FAMILY_PARITY: ContextVar[int | None] = ContextVar("family_parity", default=None)
"""Paraphrase families: each alternative of an ORG_INDICATOR_LINES entry is one family (its
index). With FAMILY_PARITY set to 0 or 1 (`only_families`), organisations write only the
families whose index has that parity, so a model can be trained on some families of every
category and tested on the others (`vigil eval --holdout-families`)."""


@contextmanager
def only_families(parity: int) -> Iterator[None]:
    """Generate with the paraphrase families of one parity only (see FAMILY_PARITY)."""
    token = FAMILY_PARITY.set(parity)
    try:
        yield
    finally:
        FAMILY_PARITY.reset(token)


def families_of(indicator: str) -> tuple[str, ...]:
    """The paraphrase families an organisation may write for `indicator` right now."""
    families = ORG_INDICATOR_LINES[indicator]
    parity = FAMILY_PARITY.get()
    if parity is None:
        return families
    return tuple(f for i, f in enumerate(families) if i % 2 == parity)


def indicator_lines(rng: random.Random, heavy: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(sentence template, indicator ids) lines an organisation writes into its template."""
    count = rng.randint(3, 5) if heavy else rng.randint(1, 3)
    chosen = rng.sample(list(ORG_INDICATOR_LINES), count)
    lines = []
    for indicator in chosen:
        line = expand(rng.choice(families_of(indicator)), rng)
        extra = ("coded_payment",) if _PAYMENT_WORDS.search(line) else ()
        lines.append((line, (indicator, *extra)))
    return lines


@dataclass
class OrgTemplate:
    """One organisation text template: sentences (with slots) and the indicator each carries."""

    title: str
    sentences: list[tuple[str, tuple[str, ...]]]  # (sentence with slots, its indicator ids)


def make_org_template(rng: random.Random, light: bool,
                      length: tuple[int, int] = (6, 8)) -> OrgTemplate:
    """A long template (the shared text an organisation re-posts across cities); `length` is
    the range of plain sentences of a light template."""
    if light:
        sentences = [(expand(s, rng), ()) for s in pick_some(rng, ADULT_SENTENCES[1:], *length)]
        intro = expand(ADULT_SENTENCES[0], rng)
        sentences.insert(0, (intro, ()))
        sentences.append((expand(rng.choice(ADULT_CONTACT), rng), ()))
        return OrgTemplate(expand(rng.choice(ADULT_TITLES), rng), sentences)
    sentences: list[tuple[str, tuple[str, ...]]] = [(expand(rng.choice(ORG_INTROS), rng), ())]
    body = [(expand(s, rng), ()) for s in pick_some(rng, ORG_BODY, 3, 5)]
    lines = indicator_lines(rng, heavy=True)
    mixed = body + lines
    rng.shuffle(mixed)
    sentences += mixed
    sentences.append((expand(rng.choice(ORG_CONTACT), rng), ()))
    if rng.random() < 0.7:
        sentences.append((" ".join(rng.sample(ORG_EMOJI, 2)), ()))
    return OrgTemplate(expand(rng.choice(ORG_TITLES), rng), sentences)


def small_edits(text: str, rng: random.Random, max_swaps: int = 2) -> str:
    """A re-post's edits: up to `max_swaps` word swaps, an emoji, spacing changes."""
    words = text.split(" ")
    swappable = [i for i, w in enumerate(words) if w.lower().strip(",.!") in ORG_WORD_SWAPS]
    for i in rng.sample(swappable, min(len(swappable), rng.randint(0, max_swaps))):
        core = words[i].lower().strip(",.!")
        words[i] = words[i].lower().replace(core, ORG_WORD_SWAPS[core])
    if rng.random() < 0.4:
        words.insert(rng.randrange(len(words) + 1), rng.choice(ORG_EMOJI))
    text = " ".join(words)
    if rng.random() < 0.3:
        text = text.replace(". ", ".  ", rng.randint(1, 3))
    if rng.random() < 0.2:
        text = text.replace(". ", ".\n", 1)
    return text


# --- actors and the corpus -------------------------------------------------------------------


@dataclass
class Draft:
    """One ad before ids and photos are attached."""

    ts: float  # seconds after START
    title: str
    body: str
    city: City
    truth: dict
    phones_field: list[str] | None = None
    photos: list[PhotoRef] = field(default_factory=list)
    actor: str = ""  # who posted it (seller, provider, organisation): for tests, not emitted


@dataclass(frozen=True)
class SyntheticAd:
    """A generated raw ad (schemas/raw_ad.v1.json, without images), the photos it carries and
    the actor who posted it (not part of the ad: tests use it to check for accidental links)."""

    ad: dict
    photos: tuple[PhotoRef, ...]
    actor: str


def _truth(label: str, kind: str, org_id: str | None = None,
           indicators: Sequence[str] = ()) -> dict:
    return {"label": label, "org_id": org_id, "kind": kind,
            "intended_indicators": sorted(set(indicators))}


class Corpus:
    """The actors of one corpus and the shared resources they draw from (phones, photos)."""

    def __init__(self, seed: int, difficulty: str, hubs: bool = False) -> None:
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, not {difficulty!r}")
        self.seed = seed
        self.hard = difficulty == "hard"
        self.hubs = hubs
        self._desk_phones: dict[str, str] = {}  # city -> its motel's front-desk number
        self.desks = PhoneBook(self._rng("hub-phones"))  # lines 0000-0099: no one else's
        self.phones = PhoneBook(self._rng("phones"))
        self.photos = PhotoSupply(self._rng("photos"))
        self.email_serial = 0
        self._texts: set[str] = set()

    def _rng(self, *parts) -> random.Random:
        return random.Random(":".join(map(str, (self.seed, *parts))))

    def _unique(self, compose, tries: int = 8) -> tuple[str, str]:
        """A (title, body) no other actor has written (short ads can coincide by chance)."""
        for _ in range(tries):
            title, body = compose()
            skeleton = re.sub(r"\d+", "#", body)  # numbers become placeholders in templates
            if skeleton not in self._texts:
                break
        self._texts.add(skeleton)
        return title, body

    def hub_user(self, actor: str) -> random.Random | None:
        """The rng of an actor that puts hub identifiers in some of its ads, else None (its own
        stream: a corpus without hubs is the same ads byte for byte)."""
        if not self.hubs:
            return None
        rng = self._rng("hub", actor)
        return rng if rng.random() < HUB_ACTOR_SHARE else None

    def hub_sentence(self, rng: random.Random | None, city: City, name: str) -> str:
        """A sentence naming a hub identifier (a motel desk in `city`, a booking e-mail), for
        `HUB_AD_SHARE` of a hub user's ads; "" otherwise."""
        if rng is None or rng.random() >= HUB_AD_SHARE:
            return ""
        if city.name in HUB_DESK_CITIES and rng.random() < 0.6:
            if city.name not in self._desk_phones:
                self._desk_phones[city.name] = self.desks.desk(city)
            desk = write_phone(self._desk_phones[city.name], rng.choice(PLAIN_STYLES), rng)
            return " " + fill(rng.choice(HUB_DESK_LINES), rng, phone=desk, name=name)
        return " " + fill(rng.choice(HUB_EMAIL_LINES), rng, email=rng.choice(HUB_EMAILS))

    def _contact(self, rng: random.Random, city: City, first: str) -> tuple[str, list[str] | None]:
        """An ordinary seller's contact sentence and the source's phones field (or None)."""
        roll = rng.random()
        if roll < 0.15:
            self.email_serial += 1
            email = (f"{rng.choice(HANDLE_WORDS)}.{rng.choice(HANDLE_WORDS)}{self.email_serial}"
                     f"@example.{rng.choice(('com', 'net', 'org'))}")
            return fill(rng.choice(EMAIL_CONTACT), rng, email=email), None
        if roll < 0.25:
            return fill(rng.choice(SITE_CONTACT), rng), None
        number = self.phones.exchange_555(city)
        if roll < 0.45:
            return fill(rng.choice(SITE_CONTACT), rng), [write_phone(number, "dashes", rng)]
        phone = write_phone(number, rng.choice(PLAIN_STYLES), rng)
        return fill(rng.choice(GENERIC_CONTACT), rng, phone=phone, first=first), None

    # each actor returns its drafts; `budget` caps how many it may post

    def seller(self, index: int, budget: int) -> list[Draft]:
        rng = self._rng("seller", index)
        city = rng.choice(CITIES)
        kind = rng.choice(BENIGN_KINDS)
        title, body = self._unique(lambda: compose_benign(rng, kind)[:2])
        contact, phones_field = self._contact(rng, city, rng.choice(FIRST_NAMES))
        body = body.format(contact=contact)
        photo = self.photos.take() if rng.random() < 0.04 else None
        photos = [PhotoRef(photo, quality=rng.choice((60, 70, 80)))] if photo else []
        posts = min(budget, rng.choices((1, 2, 3, 4), weights=(70, 18, 8, 4))[0])
        ts = rng.uniform(0, (SPAN_DAYS - 6) * DAY_S)
        drafts = []
        for n in range(posts):
            text = body if n == 0 or rng.random() < 0.5 else body + rng.choice(
                (" Price drop!", " Still available.", " Reposting, still have it.", " Bump."))
            drafts.append(Draft(ts, title, text, city, _truth("benign", kind), phones_field, photos,
                                actor=f"seller-{index}"))
            ts += rng.uniform(1, 3) * DAY_S
        return drafts

    def lookalike(self, index: int, budget: int) -> list[Draft]:
        rng = self._rng("lookalike", index)
        kind = "lookalike_touring" if rng.random() < 0.05 else rng.choice(LOOKALIKE_KINDS[:-1])
        if kind == "lookalike_touring":
            return self.touring_business(rng, budget, f"touring-{index}")
        city = rng.choice(CITIES)
        title, body = self._unique(lambda: compose_lookalike(rng, kind)[:2])
        number = self.phones.exchange_555(city)
        contact = fill(rng.choice(GENERIC_CONTACT), rng, first=rng.choice(FIRST_NAMES),
                       phone=write_phone(number, rng.choice(PLAIN_STYLES), rng))
        body = body.format(contact=contact)
        ts = rng.uniform(0, (SPAN_DAYS - 8) * DAY_S)
        drafts = []
        for _ in range(min(budget, rng.randint(1, 4))):
            drafts.append(Draft(ts, title, body, city, _truth("benign", kind),
                                actor=f"lookalike-{index}"))
            ts += rng.uniform(1, 4) * DAY_S
        return drafts

    def touring_business(self, rng: random.Random, budget: int, actor: str) -> list[Draft]:
        """A legitimate business that moves along a circuit with one phone and one text."""
        short, title, template = rng.choice(TOURING_BUSINESSES)
        template = expand(template, rng)
        stays = self._circuit(rng, rng.randint(3, 6), (3, 6))
        number = self.phones.exchange_555(stays[0][0])
        contact = fill(rng.choice(GENERIC_CONTACT), rng, first=rng.choice(FIRST_NAMES),
                       phone=write_phone(number, rng.choice(PLAIN_STYLES), rng))
        drafts = []
        for k, (city, start, end) in enumerate(stays):
            next_city = stays[k + 1][0].name if k + 1 < len(stays) else rng.choice(CITIES).name
            for _ in range(rng.randint(1, 3)):
                if len(drafts) >= budget:
                    return drafts
                ts = rng.uniform(start, max(start, end - DAY_S))
                body = template.format(day=_weekday(end), next_city=next_city, contact=contact)
                drafts.append(Draft(ts, f"{title} - {city.name}", body, city,
                                    _truth("benign", "lookalike_touring"), actor=actor))
        return drafts

    def independent(self, index: int, budget: int) -> list[Draft]:
        rng = self._rng("independent", index)
        city = rng.choice(CITIES)
        name, age = rng.choice(ADULT_NAMES), rng.randint(23, 45)
        number = self.phones.fictional(city)
        style = rng.choice(OBFUSCATED_STYLES) if self.hard and rng.random() < 0.3 \
            else rng.choice(PLAIN_STYLES)
        sentences = [ADULT_SENTENCES[0]] + pick_some(rng, ADULT_SENTENCES[1:], 4, 7)
        indicators: list[str] = []
        if self.hard and rng.random() < 0.25:
            jargon, indicator = rng.choice(ADULT_JARGON)
            sentences.append(jargon)
            indicators.append(indicator)
        sentences.append(rng.choice(ADULT_CONTACT))
        slots = {"name": name, "age": age, "city": city.name}
        title = fill(rng.choice(ADULT_TITLES), rng, **slots)
        template = " ".join(expand(s, rng) for s in sentences)
        if style in OBFUSCATED_STYLES:
            indicators.append("contact:obfuscated")
        photo = self.photos.take() if rng.random() < 0.3 else None
        variants = repost_variants(rng, photo, 2) if photo else []
        posts = min(budget, rng.choices((1, 2, 4, 6, 10), weights=(30, 25, 20, 15, 10))[0])
        ts = rng.uniform(0, (SPAN_DAYS - 2) * DAY_S)
        gap = rng.uniform(1, 5) * DAY_S
        hub = self.hub_user(f"independent-{index}")
        drafts = []
        for _ in range(posts):
            text = small_edits(template, rng) if rng.random() < 0.5 else template
            body = tidy(text.format(**slots, phone=write_phone(number, style, rng))
                        + self.hub_sentence(hub, city, name))
            photos = [rng.choice(variants)] if variants else []
            drafts.append(Draft(min(ts, SPAN_DAYS * DAY_S - 60), title, body, city,
                                _truth("adult", "independent", indicators=indicators),
                                photos=photos, actor=f"independent-{index}"))
            ts += gap * rng.uniform(0.5, 1.5)
        return drafts

    def _circuit(self, rng: random.Random, cities: int,
                 stay_days: tuple[int, int]) -> list[tuple[City, float, float]]:
        """Consecutive cities of a corridor with (city, start, end) seconds after START."""
        corridor = list(rng.choice(CORRIDORS))
        if rng.random() < 0.5:
            corridor.reverse()
        cities = min(cities, len(corridor))
        first = rng.randrange(len(corridor) - cities + 1)
        route = [CITY_BY_NAME[name] for name in corridor[first:first + cities]]
        total = SPAN_DAYS * DAY_S
        start = rng.uniform(0, total * 0.35)
        stays = []
        for city in route:
            end = min(total, start + rng.uniform(*stay_days) * DAY_S)
            stays.append((city, start, end))
            start = end + rng.uniform(0, 0.5) * DAY_S
            if start >= total - DAY_S:
                break
        return stays

    def organisation(self, index: int, budget: int, *, light: bool) -> list[Draft]:
        """An organisation's ads along its circuit (see the module docstring)."""
        rng = self._rng("org", index)
        org_id = f"org-{self.seed}-{index:04d}"
        stays = self._circuit(rng, rng.randint(3, 6), (2, 5))
        phones = [self.phones.fictional(stays[0][0]) for _ in range(rng.randint(2, 6))]
        styles = rng.sample(OBFUSCATED_STYLES, rng.randint(1, 3))
        if light:
            styles += [rng.choice(PLAIN_STYLES)]
        personas = [(rng.choice(ADULT_NAMES), rng.randint(20, 32)) if light
                    else (rng.choice(PERSONA_NAMES), rng.randint(18, 23))
                    for _ in range(rng.randint(3, 7))]
        templates = [make_org_template(rng, light) for _ in range(rng.randint(1, 3))]
        photos = []
        for _ in range(rng.randint(2, 4)):
            photo = self.photos.take()
            if photo:
                photos.append(repost_variants(rng, photo))
        kind = "org_light" if light else "org"
        per_day = rng.uniform(1.5, 4.0)
        hub = self.hub_user(org_id)
        drafts: list[Draft] = []
        for k, (city, start, end) in enumerate(stays):
            next_city = stays[k + 1][0] if k + 1 < len(stays) else rng.choice(CITIES)
            active = [phones[(k + j) % len(phones)] for j in range(2)]
            for _ in range(max(1, round(per_day * (end - start) / DAY_S))):
                if len(drafts) >= budget:
                    return drafts
                ts = rng.uniform(start, end)
                template = rng.choice(templates)
                name, age = rng.choice(personas)
                style = rng.choice(styles)
                slots = {"name": name, "age": age, "city": city.name, "day": _weekday(end),
                         "next_city": next_city.name,
                         "phone": write_phone(rng.choice(active), style, rng)}
                kept = [(s, ids) for s, ids in template.sentences
                        if "short_stay_touring" not in ids or ts > start + (end - start) / 3]
                body = small_edits(" ".join(s for s, _ in kept), rng).format(**slots) \
                    + self.hub_sentence(hub, city, name)
                indicators = [i for _, ids in kept for i in ids]
                indicators += ["link:phone", "link:template", "link:circuit", "link:personas"]
                if style in OBFUSCATED_STYLES:
                    indicators.append("contact:obfuscated")
                ad_photos = []
                if photos and rng.random() < 0.5:
                    variants = rng.choice(photos)  # mostly the same file, sometimes edited
                    ad_photos = rng.choices(variants, weights=(6, 2, 2)[:len(variants)])
                    indicators.append("link:photo")
                drafts.append(Draft(ts, template.title.format(**slots), tidy(body), city,
                                    _truth("trafficking", kind, org_id, indicators),
                                    photos=ad_photos, actor=org_id))
        return drafts

    def planted(self, index: int) -> list[Draft]:
        """A missing-children planted photo on its own ad (an indicator-light adult-style ad)."""
        rng = self._rng("planted", index)
        city = rng.choice(CITIES)
        number = self.phones.fictional(city)
        template = make_org_template(rng, light=rng.random() < 0.5)
        slots = {"name": rng.choice(PERSONA_NAMES), "age": rng.randint(18, 20), "city": city.name,
                 "day": rng.choice(WEEKDAYS), "next_city": rng.choice(CITIES).name,
                 "phone": write_phone(number, rng.choice(PLAIN_STYLES + OBFUSCATED_STYLES), rng)}
        body = tidy(" ".join(s for s, _ in template.sentences).format(**slots))
        indicators = [i for _, ids in template.sentences for i in ids] + ["image:bank_match"]
        photo = bank_variant(rng, rng.choice(BANK_PHOTOS))
        ts = rng.uniform(0, SPAN_DAYS * DAY_S - 60)
        return [Draft(ts, template.title.format(**slots), body, city,
                      _truth("missing_child", "planted_photo", None, indicators), photos=[photo],
                      actor=f"planted-{index}")]


def _weekday(seconds_after_start: float) -> str:
    return WEEKDAYS[(START + timedelta(seconds=seconds_after_start)).weekday()]


SHARES = {  # fractions of ads per actor type
    "easy": {"org": 0.15, "org_light": 0.0, "independent": 0.12, "lookalike": 0.0},
    "hard": {"org": 0.09, "org_light": 0.06, "independent": 0.14, "lookalike": 0.06},
}
PLANTED_PER_ADS = 2_000  # one planted missing-children photo per this many ads (at least 1)


def plan_corpus(n: int, seed: int, difficulty: str = "easy", hubs: bool = False) -> list[Draft]:
    """Exactly `n` drafts in time order (ties kept in generation order)."""
    corpus = Corpus(seed, difficulty, hubs)
    shares = SHARES[difficulty]
    drafts: list[Draft] = []
    planted = 0 if n < 20 else 1 if n < 200 else max(2, round(n / PLANTED_PER_ADS))
    in_org = planted // 2
    for i in range(planted - in_org):
        drafts += corpus.planted(i)
    index = 0
    for role in ("org", "org_light", "independent", "lookalike"):
        target = round(n * shares[role])
        made = 0
        while made < target:
            budget = target - made
            if role == "independent":
                new = corpus.independent(index, budget)
            elif role == "lookalike":
                new = corpus.lookalike(index, budget)
            else:
                new = corpus.organisation(index, budget, light=role == "org_light")
            drafts += new
            made += len(new)
            index += 1
    _plant_in_orgs(drafts, in_org, corpus._rng("planted-in-org"))
    while len(drafts) < n:
        drafts += corpus.seller(index, n - len(drafts))
        index += 1
    drafts = drafts[:n]
    for draft in drafts:
        draft.ts = min(max(draft.ts, 0.0), SPAN_DAYS * DAY_S - 60)
    drafts.sort(key=lambda d: d.ts)
    return drafts


def _plant_in_orgs(drafts: list[Draft], count: int, rng: random.Random) -> None:
    """Give `count` organisation ads a bank photo instead (label missing_child, org kept)."""
    org_ads = [d for d in drafts if d.truth["label"] == "trafficking"]
    for draft in rng.sample(org_ads, min(count, len(org_ads))):
        draft.photos = [bank_variant(rng, rng.choice(BANK_PHOTOS))]
        indicators = [i for i in draft.truth["intended_indicators"] if i != "link:photo"]
        draft.truth = _truth("missing_child", "planted_photo_org", draft.truth["org_id"],
                             indicators + ["image:bank_match"])


def to_ad(draft: Draft, ad_id: str) -> SyntheticAd:
    posted = START + timedelta(seconds=int(draft.ts))
    slug = draft.city.name.lower().replace(" ", "-")
    ad = {"ad_id": ad_id, "source": SOURCE, "posted_at": posted.strftime("%Y-%m-%dT%H:%M:%SZ"),
          "url": f"https://classifieds.example/{slug}/{ad_id}", "title": tidy(draft.title),
          "body": draft.body,
          "location": {"city": draft.city.name, "region": draft.city.region, "country": "US"}}
    if draft.phones_field:
        ad["phones"] = list(draft.phones_field)
    ad["ground_truth"] = dict(draft.truth)
    return SyntheticAd(ad, tuple(draft.photos), draft.actor)


def synthetic_ads(n: int, seed: int, difficulty: str = "easy",
                  hubs: bool = False) -> Iterator[SyntheticAd]:
    """`n` labelled ads in time order, the same for the same seed, difficulty and hubs."""
    if n < 0:
        raise ValueError("n must be >= 0")
    for i, draft in enumerate(plan_corpus(n, seed, difficulty, hubs)):
        yield to_ad(draft, f"s{seed}-{i:06d}")


def harmless_looking_org(n_ads: int = 40, n_cities: int = 5, seed: int = 0) -> list[SyntheticAd]:
    """One organisation whose ads each read like a plain independent adult ad, but share
    phones, a template and photos across `n_cities` cities (issue 5's done-when case)."""
    corpus = Corpus(seed, "hard")
    rng = corpus._rng("harmless-org")
    org_id = f"org-{seed}-harmless"
    corridor = max(CORRIDORS, key=len)
    route = [CITY_BY_NAME[c] for c in corridor[:n_cities]]
    phones = [corpus.phones.fictional(route[0]) for _ in range(3)]
    template = make_org_template(rng, light=True, length=(9, 11))
    photo = corpus.photos.take()
    variants = repost_variants(rng, photo) if photo else []
    personas = [(rng.choice(ADULT_NAMES), rng.randint(21, 30)) for _ in range(4)]
    out = []
    for i in range(n_ads):
        k = i * n_cities // n_ads
        city = route[k]
        name, age = personas[i % len(personas)]
        slots = {"name": name, "age": age, "city": city.name, "day": "", "next_city": "",
                 "phone": write_phone(phones[(k + i % 2) % len(phones)],
                                      rng.choice(PLAIN_STYLES), rng)}
        body = " ".join(s for s, _ in template.sentences)
        body = tidy(small_edits(body, rng, max_swaps=0).format(**slots))
        ts = i * 0.9 * SPAN_DAYS * DAY_S / n_ads
        draft = Draft(ts, template.title.format(**slots), body, city,
                      _truth("trafficking", "org_light", org_id,
                             ["link:phone", "link:template", "link:circuit", "link:personas",
                              "link:photo"]),
                      photos=[variants[i % len(variants)]] if variants else [], actor=org_id)
        out.append(to_ad(draft, f"harmless-{seed}-{i:03d}"))
    return out
