"""Contacts other than phones: emails, handles on messaging platforms, and URLs.

Each finder works on an ad's normalised, lowercased text and returns (value, start, end) on it.
None scans the whole text with a general regex: they look for cheap anchors first ("@",
" at ", ".com", platform names through the shared automaton) and run small anchored regexes
around them. Spelled-out forms count: "candy (at) mail (dot) com", "sc: candy", "ig - candy".
"""

from __future__ import annotations

import re

from detectors.text.automata import platform_automaton
from detectors.text.normalise import Normalised
from detectors.text.wordlists import ALIAS_TO_PLATFORM

# --- emails ----------------------------------------------------------------------------------

_TLDS = (
    "com|net|org|edu|gov|io|co|us|me|info|biz|mx|es|ca|uk|de|fr|ru|app|xyz|live|online|email|mail"
)
_WEBMAIL = (
    "protonmail|hotmail|outlook|tutanota|fastmail|hushmail|icloud|yandex|proton|gmail"
    "|yahoo|ymail|live|mail|zoho|tuta|gmx|aol|msn"
)
# "@", "(at)", "[at]", " at " ... : the token between the local part and the host
_AT_ANCHOR = re.compile(r"@|[(\[{<]at[)\]}>]|[(\[]@[)\]]| at ")
_LOCAL_BEFORE = re.compile(r"(?<![a-z0-9._%+\-])[a-z0-9][a-z0-9._%+\-]{0,63}\s{0,2}$")
_DOT = r"(?:\s{0,2}(?:\(dot\)|\[dot\]|\{dot\}|<dot>|\(\.\)|\[\.\])\s{0,2}|\s{1,2}dot\s{1,2}|\.)"
_HOST_AFTER = re.compile(
    rf"\s{{0,2}}(?P<domain>[a-z0-9][a-z0-9\-]{{0,62}}(?:{_DOT}[a-z0-9][a-z0-9\-]{{0,62}}){{0,3}}?)"
    rf"{_DOT}(?P<tld>{_TLDS}|[a-z]{{2,12}})(?![a-z0-9\-@]|\.[a-z0-9])"
)
_WEBMAIL_AFTER = re.compile(
    rf"\s{{0,2}}(?P<domain>{_WEBMAIL})(?:{_DOT}(?P<tld>{_TLDS}))?(?![a-z0-9\-@]|\.[a-z0-9])"
)
_DOT_SPLIT = re.compile(_DOT)
# an email needs "@", a bracketed "at" or a webmail host after " at "; two regexes that start
# with a literal (sre then skips ahead with a fast search) instead of 26 `in` scans
_AT_BRACKETED = re.compile(r"at[)\]}>]")
_AT_WEBMAIL = re.compile(r" at (?:" + _WEBMAIL + ")")
_PRONOUNS = frozenset(["me", "us", "him", "her", "them", "you", "u"])

# short or everyday aliases need an explicit separator ("sc: candy", "line id: candy")
_NEEDS_SEPARATOR = frozenset({"sc", "ig", "wa", "tg", "tele", "line", "signal", "snap", "kik"})
_HANDLE_AFTER = re.compile(
    r"(?:\s{0,2}(?P<idword>id|me|name|username|user|handle|add))?"
    r"(?P<sep>\s{0,2}(?:[:=\-\u2192>]|is|@|at|on)\s{0,2}|\s{1,2})@?"
    r"(?P<handle>[a-z0-9_][a-z0-9_.\-]{1,29})(?![a-z0-9_@])"
)
_BARE_HANDLE_AFTER = re.compile(r"(?P<handle>[a-z0-9_][a-z0-9_.]{2,29})(?![a-z0-9_@])")
_HANDLE_URL = re.compile(
    r"(?<![a-z0-9])(?:https?://)?(?:www\.)?(?P<site>instagram\.com|snapchat\.com/add|t\.me|kik\.me"
    r"|twitter\.com|x\.com|tiktok\.com/@?|onlyfans\.com)/@?(?P<handle>[a-z0-9_][a-z0-9_.\-]{1,29})"
)
_HANDLE_SITES = (
    "instagram.com/",
    "snapchat.com/add/",
    "t.me/",
    "kik.me/",
    "twitter.com/",
    "x.com/",
    "tiktok.com/",
    "onlyfans.com/",
)
_SITE_PLATFORM = {
    "instagram.com": "instagram",
    "snapchat.com/add": "snapchat",
    "t.me": "telegram",
    "kik.me": "kik",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "tiktok.com/": "tiktok",
    "tiktok.com/@": "tiktok",
    "onlyfans.com": "onlyfans",
}
_NOT_HANDLES = frozenset(
    """
    me my at on is it the and or for to add only here now text call id name user dm msg
    message pm inbox please pls plz avail available ok too also same handle username you u
    ur your with via
    """.split()  # noqa: SIM905 (a word list reads better as text)
) | frozenset(ALIAS_TO_PLATFORM)


_BOUNDARY_CHARS = " \n\t(/,.:;|-*[{<>\"'!?"


# --- urls ------------------------------------------------------------------------------------

_URL_TLDS = (
    "com|net|org|io|me|co|xxx|us|info|biz|ly|gg|tv|app|site|online|link|club|xyz|cc|to|ws|mx|es"
)
_URL_PATH = r"(?:/[^\s<>\"'{}|\\^`\[\]]{0,300})?"
_URL_SCHEME = re.compile(r"(?:https?://|www\.)[^\s<>\"'{}|\\^`\[\]]{1,300}")
_TLD_ANCHOR = re.compile(rf"\.(?:{_URL_TLDS})(?![a-z0-9\-])")
_HOST_BEFORE = re.compile(r"(?<![a-z0-9@.\-/])[a-z0-9][a-z0-9\-]{0,62}(?:\.[a-z0-9\-]{1,63}){0,3}$")
_PATH_AFTER = re.compile(_URL_PATH)
_URL_TRAILING = ".,;:!?)]}'\""


def find_emails(lowered: str) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    if "@" not in lowered and not _AT_BRACKETED.search(lowered) and not _AT_WEBMAIL.search(lowered):
        return out
    covered = -1
    for anchor in _AT_ANCHOR.finditer(lowered):
        at_start, at_end = anchor.span()
        if at_start < covered:
            continue
        spelled = anchor.group(0) == " at "
        host = (_WEBMAIL_AFTER if spelled else _HOST_AFTER).match(lowered, at_end)
        if host is None and not spelled:
            host = _WEBMAIL_AFTER.match(lowered, at_end)
        if host is None:
            continue
        local = _LOCAL_BEFORE.search(lowered, max(0, at_start - 66), at_start)
        if local is None:
            continue
        if host.re is _WEBMAIL_AFTER:
            domain = [host.group("domain"), host.group("tld") or "com"]
        else:
            domain = [p.strip() for p in _DOT_SPLIT.split(host.group("domain"))] + [
                host.group("tld")
            ]
        name = local.group(0).strip().strip(".")
        if name and all(domain) and name not in _PRONOUNS:
            out.append((f"{name}@{'.'.join(domain)}", local.start(), host.end()))
            covered = host.end()
    return out


def find_handles(
    lowered: str, platform_hits: list[tuple[int, str]] | None = None
) -> list[tuple[str, int, int]]:
    """Handles; `platform_hits` are `platform_automaton().iter(" " + lowered)` when known."""
    out: list[tuple[str, int, int]] = []
    n = len(lowered)
    if platform_hits is None:
        platform_hits = list(platform_automaton().iter(" " + lowered))
    for end_index, alias in platform_hits:
        start, end = end_index - len(alias), end_index  # offsets into lowered
        if alias[0].isalnum() and end < n and lowered[end].isalnum():
            continue
        m = _HANDLE_AFTER.match(lowered, end)
        if m is None:
            continue
        handle = m.group("handle").rstrip(".-")
        if alias in _NEEDS_SEPARATOR and not m.group("sep").strip() and not m.group("idword"):
            continue
        if handle in _NOT_HANDLES or not any(c.isalpha() for c in handle):
            continue
        out.append((f"{ALIAS_TO_PLATFORM[alias]}:{handle}", start, m.end()))
    at = lowered.find("@")
    while at != -1:
        if at == 0 or not (lowered[at - 1].isalnum() or lowered[at - 1] in "._%+-"):
            m = _BARE_HANDLE_AFTER.match(lowered, at + 1)
            if m is not None:
                handle = m.group("handle").rstrip(".")
                if (
                    handle not in _NOT_HANDLES
                    and any(c.isalpha() for c in handle)  # "555@@0131" is a phone's separator
                    and not any(s <= at < e for _, s, e in out)
                ):
                    out.append((f"unknown:{handle}", at, m.end()))
        at = lowered.find("@", at + 1)
    if "/" in lowered and any(site in lowered for site in _HANDLE_SITES):
        for m in _HANDLE_URL.finditer(lowered):
            platform = _SITE_PLATFORM.get(m.group("site"), m.group("site"))
            out.append((f"{platform}:{m.group('handle').rstrip('.-')}", m.start(), m.end()))
    return out


def find_urls(
    norm: Normalised, lowered: str, email_spans: list[tuple[int, int]]
) -> list[tuple[str, int, int]]:
    if "." not in lowered:
        return []
    spans: list[tuple[int, int]] = []
    if "http" in lowered or "www." in lowered:
        spans += [m.span() for m in _URL_SCHEME.finditer(lowered)]
    scheme_spans = spans[:]
    k = 0
    for m in _TLD_ANCHOR.finditer(lowered):
        while k < len(scheme_spans) and scheme_spans[k][1] <= m.start():
            k += 1
        if k < len(scheme_spans) and scheme_spans[k][0] <= m.start():
            continue
        host = _HOST_BEFORE.search(lowered, max(0, m.start() - 80), m.start())
        if host is None:
            continue
        path = _PATH_AFTER.match(lowered, m.end())
        spans.append((host.start(), path.end() if path else m.end()))
    emails = sorted(email_spans)
    out: list[tuple[str, int, int]] = []
    k = 0
    for start, end in sorted(set(spans)):
        while k < len(emails) and emails[k][1] <= start:
            k += 1
        if k < len(emails) and emails[k][0] <= start:
            continue
        while end > start and lowered[end - 1] in _URL_TRAILING:
            end -= 1
        value = norm.text[start:end]
        if "." in value and (not out or start >= out[-1][2]):
            out.append((value, start, end))
    return out

