"""`vigil forget --ad-id ID | --phone NUMBER`: remove an ad, or a phone number in any written
form, from every store that keeps it, and say per store what was removed (and what cannot be)."""

from __future__ import annotations

from detectors.text.phones import extract_phones
from streams.clients import redis_client
from streams.config import load_settings, redis_prefix
from streams.errors import CliError
from streams.forget.stores import Subject, default_stores
from streams.logs import hashed


def normalise_phone(number: str, country: str) -> str:
    """The one E.164 number written in `number` (as the detectors read phones in ads)."""
    found = {e164 for e164, _, _ in extract_phones(number, country.upper())}
    if len(found) != 1:
        what = "no phone number" if not found else f"{len(found)} phone numbers"
        raise CliError(f"--phone: found {what} in what was given (country {country.upper()}); give one number, "
                       "e.g. +1 702 555 0123, or its country with --country")
    return found.pop()


def _cmd_forget(args) -> int:
    from streams.stack.launcher import services

    if bool(args.ad_id) == bool(args.phone):
        raise CliError("give --ad-id ID or --phone NUMBER (one of them)")
    settings = load_settings()
    subject = Subject(ad_id=args.ad_id) if args.ad_id else Subject(phone=normalise_phone(args.phone, args.country))
    with services(settings, kafka=True, redis=True):  # stopped again at the end if started here
        client = redis_client(settings)
        if subject.phone:
            key = f"{redis_prefix(settings)}id:phone:{subject.phone}:ads"
            subject.ads_of_phone = [a.decode() for a in client.zrange(key, 0, -1)]
        # the number itself is never printed: the operator knows it, logs and terminals need not
        shown = f"ad {subject.ad_id}" if subject.ad_id else f"phone {hashed(subject.phone)}"
        print(f"forget {shown}:")
        for store in default_stores(settings, client):
            for line in store.forget(subject):
                print(f"  {store.name}: {line}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("forget", help="erase an ad or a phone number from every store, saying what was "
                                             "removed")
    p.add_argument("--ad-id", help="the ad's id")
    p.add_argument("--phone", help="a phone number as written anywhere (normalised like the detectors do)")
    p.add_argument("--country", default="US", help="country for a number without its +code (default US)")
    p.set_defaults(func=_cmd_forget)
