"""The text detectors, one layer a module, each importing only the layers below it.

    normalise, wordlists    the text de-obfuscated with a map back to the original; shared word lists
    lexicon                 the indicator lexicon (lexicon.yaml) compiled
    concepts                concept classes (concepts.yaml) expanded to their stemmed surface forms
    automata                every Aho-Corasick automaton, and the one word scan of an ad
    numbers                 the numeric view: number words and look-alike letters become digits
    adtext                  an ad's title and body analysed once for every detector
    words                   the words and characters next to a position
    phones, contacts, ages, prices, places
                            the extractors (phones, emails / handles / URLs, ages, rates, cities)
    entities, placeholders  all entities of an ad with evidence; its template text
    grammar                 red flags as rules over concept classes (grammar.yaml)
    indicators              red-flag indicators with evidence: the lexicon's and the grammar's

The hot path may run compiled with mypyc: see `compiled` (and setup.py, which builds it).
"""

from detectors.text.compiled import use_sources_if_stale

use_sources_if_stale()
