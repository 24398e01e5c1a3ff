"""Word lists that several text detectors share, as plain data.

Number words (English and Spanish) become digits in the numeric view (`numbers`), platform
names introduce handles (`contacts`); the merged word scan (`automata`) looks for all of them,
and for the lexicon's phrases, in one pass. Data only: nothing here imports from vigil.
"""

from __future__ import annotations

# --- number words ------------------------------------------------------------------------------

UNITS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "cero": "0",
    "uno": "1",
    "dos": "2",
    "tres": "3",
    "cuatro": "4",
    "cinco": "5",
    "seis": "6",
    "siete": "7",
    "ocho": "8",
    "nueve": "9",
}
TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "diez": "10",
    "doce": "12",
    "trece": "13",
    "catorce": "14",
    "quince": "15",
    "dieciseis": "16",
    "diecisiete": "17",
    "dieciocho": "18",
    "diecinueve": "19",
    "veinte": "20",
    "veintiuno": "21",
    "veintidos": "22",
    "veintitres": "23",
    "veinticuatro": "24",
    "veinticinco": "25",
    "veintiseis": "26",
    "veintisiete": "27",
    "veintiocho": "28",
    "veintinueve": "29",
}
TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fourty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
    "treinta": "3",
    "cuarenta": "4",
    "cincuenta": "5",
    "sesenta": "6",
    "setenta": "7",
    "ochenta": "8",
    "noventa": "9",
}
HUNDREDS = {
    "cien": "1",
    "ciento": "1",
    "doscientos": "2",
    "trescientos": "3",
    "cuatrocientos": "4",
    "quinientos": "5",
    "seiscientos": "6",
    "setecientos": "7",
    "ochocientos": "8",
    "novecientos": "9",
}
REPEAT = {"double": 2, "triple": 3, "doble": 2}
NUMBER_WORDS = {**UNITS, **TEENS, **TENS, **HUNDREDS, "hundred": "", **REPEAT}


# --- platforms that introduce a handle -------------------------------------------------------

PLATFORM_NAMES = {
    "snapchat": ("snapchat", "snap chat", "snap", "sc", "\U0001f47b"),
    "instagram": ("instagram", "insta", "ig"),
    "telegram": ("telegram", "tg", "tele"),
    "whatsapp": ("whatsapp", "whats app", "whatsap", "watsapp", "wa", "wapp"),
    "kik": ("kik",),
    "twitter": ("twitter",),
    "tiktok": ("tiktok", "tik tok"),
    "onlyfans": ("onlyfans", "only fans"),
    "wickr": ("wickr",),
    "signal": ("signal",),
    "skype": ("skype",),
    "wechat": ("wechat",),
    "line": ("line",),
    "discord": ("discord",),
}
ALIAS_TO_PLATFORM = {alias: p for p, aliases in PLATFORM_NAMES.items() for alias in aliases}
BOUNDARY_CHARS = " \n\t(/,.:;|-*[{<>\"'!?"
