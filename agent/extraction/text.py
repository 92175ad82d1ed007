"""Small, deterministic text tools for model-free extraction.

Written here rather than taken from an NLP library because the fast path must run with no
model downloads (spaCy/NLTK fetch models and data at run time) and in microseconds per turn.
Stopwords come from bm25s (the NLTK English list) plus conversational filler; stemming uses
PyStemmer (Snowball); verbs are conjugated from lemminflect's lexicon (its data ships in the
wheel, looked up in memory).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

__all__ = [
    "STOPWORDS",
    "TURN_KEYWORDS",
    "content_words",
    "entities",
    "keywords",
    "sentences",
    "stem",
    "strip_discourse",
    "third_person",
]

_FILLER = (
    "yeah yes yep nope ok okay oh ah wow hey hi hello thanks thank please really totally "
    "actually basically literally definitely absolutely probably maybe kinda sorta gonna "
    "wanna gotta lot lots thing things stuff something anything everything nothing someone "
    "anyone everyone way ways kind sort bit much many also even still already always never "
    "ever just like know think thought get got getting go going gone went come came make made "
    "take took good great nice cool awesome amazing glad happy sure right well pretty super "
    "fun tell told say said see seen saw feel felt look looks looking want wanted need needed "
    "let lets day days time times today tonight tomorrow yesterday week weeks month months "
    "year years lately recently one two three first last new old little big best better much "
    "soon would could should might must can cannot will shall may us im ive id ill youre "
    "youve thats theres its dont didnt doesnt cant wont isnt wasnt arent werent hes shes "
    "theyre weve whats hows wheres mean means"
).split()

STOPWORDS: frozenset[str] = frozenset(STOPWORDS_EN_PLUS) | frozenset(_FILLER)

_SENT_SPLIT = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bSt\.)(?<!\bvs\.)(?<!\bJr\.)"
    r"(?<!\bSr\.)(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*[A-Za-z]|[A-Za-z]")
_CAP_RUN = re.compile(r"\b([A-Z][a-z]+(?:\s+(?:of\s+|the\s+)?[A-Z][a-z]+)*)\b")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """Snowball stem of a lowercase word.

    >>> stem("paintings") == stem("painting")
    True
    """
    return str(_stemmer().stemWord(word.lower()))


def sentences(text: str) -> list[str]:
    """Split on sentence punctuation followed by a capital; keeps short texts whole."""
    parts = [p.strip() for p in _SENT_SPLIT.split(text.strip())]
    return [p for p in parts if p]


#: a sentence-opening interjection, taken off only where punctuation or a first-person word
#: follows it ("Yeah, I moved", "Oh I love it"; never "So much happened", "Oh no, I lost it")
_OPENER = re.compile(
    r"^(?:yes|yeah|yep|yup|yea|oh|ah|aw+|wow|whoa|woah|haha+|hah|lol|omg|hey|hi|hello|ok|okay|"
    r"well|so|and|but|anyway|btw)(?:[,!.…]+\s*|\s+(?=(?:I|I'm|I’m|I've|I’ve|I'd|I'll|my|we|me)\b))",
    re.I,
)
#: the listener's name right after such an opener ("Yeah, Maria, I ...")
_VOCATIVE = re.compile(
    r"^(?!(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|"
    r"April|May|June|July|August|September|October|November|December|Today|Yesterday)\b)"
    r"[A-Z][a-z]+[,!]\s+"
)


def strip_discourse(sentence: str) -> str:
    """The sentence without the interjections and the listener's name it opens with, so a
    habit or goal states the content alone ("Yeah, Maria, I run on Thursdays." -> "I run on
    Thursdays."). A sentence that is nothing but them stays as it is.

    >>> strip_discourse("Yeah, Maria, I volunteer at the shelter on Sundays.")
    'I volunteer at the shelter on Sundays.'
    >>> strip_discourse("Oh, yeah I love my new bike!")
    'I love my new bike!'
    >>> strip_discourse("So much has happened since May.")
    'So much has happened since May.'
    >>> strip_discourse("Oh no, I lost my keys.")
    'Oh no, I lost my keys.'
    >>> strip_discourse("Yeah, Sunday, I went hiking.")
    'Sunday, I went hiking.'
    """
    out, stripped = sentence.strip(), False
    while (m := _OPENER.match(out)) and m.end() < len(out):
        out, stripped = out[m.end() :], True
    if stripped and (m := _VOCATIVE.match(out)):
        out = out[m.end() :]
    if stripped and out[0].isascii() and out[0].islower():
        out = out[0].upper() + out[1:]
    return out


def _norm(word: str) -> str:
    return word.lower().replace("’", "'").strip("'-")


def content_words(text: str) -> list[str]:
    """Lowercase words without stopwords, possessive 's and very short words."""
    out = []
    for raw in _WORD.findall(text):
        w = _norm(raw)
        if w.endswith("'s"):
            w = w[:-2]
        if len(w) > 2 and w not in STOPWORDS and w.replace("'", "") not in STOPWORDS:
            out.append(w)
    return out


#: keywords kept per turn: full-text boosts them (``keywords:(...)^2``). Chosen on the LoCoMo
#: dev split (one ingest per value, fresh homes): recall@10 at 6 / 8 / 10 / 14 keywords was
#: 77.4 / 77.4 / 78.1 / 77.8; at 10, 15 questions gained evidence and 6 lost some, 3 of the 5
#: conversations rose (conv-30 fell 1.4, conv-26 0.3), open-domain 51.1 -> 53.3, single-hop
#: 80.9 -> 82.3, multi-hop 51.1 -> 51.9, temporal 88.1 -> 87.5 (one question).
TURN_KEYWORDS = 10


def keywords(text: str, k: int = 6, *, exclude: Iterable[str] = ()) -> list[str]:
    """Up to ``k`` content words, most frequent first (first occurrence breaks ties),
    one per stem.

    >>> keywords("I painted a sunrise; painting sunrises calms me", 3)
    ['painted', 'sunrise', 'calms']
    """
    banned = {stem(e) for e in exclude}
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for w in content_words(text):
        s = stem(w)
        if s in banned:
            continue
        counts[s] += 1
        first.setdefault(s, w)
    ranked = sorted(counts, key=lambda s: -counts[s])
    return [first[s] for s in ranked[:k]]


#: words that open a sentence before a name without being part of it ("Hey Caroline",
#: "Thanks Mel", "So Melanie", "Yesterday Sam"); the name after them is a name even there
_LEADERS = frozenset(
    (
        "hey hi hello hiya yo thanks thank wow oh ah aw aww awww yeah yes yep no nope ok okay so "
        "now well congrats congratulations bye goodbye hmm haha lol omg woohoo yay sure sorry "
        "please dear and but or also just then since for whenever anyway great good nice cool "
        "totally agreed last next this yesterday today tonight tomorrow"
    ).split()
)
#: days are calendar nodes (ON a Day), not entities
_DAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun weekend".split()
)


def entities(text: str, *, exclude: Iterable[str] = ()) -> list[str]:
    """Capitalised word runs that are not sentence-initial common words (a cheap NER).
    Leading greetings and discourse words are cut off, day names are not entities, and a
    short form of an excluded name (the speakers: "Mel" for "Melanie") is excluded too.

    >>> entities("Yesterday I flew to New York with Sam. It was fun.")
    ['New York', 'Sam']
    >>> entities("Hey Caroline! Seeing Oscar last Friday was great.", exclude=["Caroline"])
    ['Oscar']
    >>> entities("Thanks Mel, the Grand Canyon was huge.", exclude=["Melanie"])
    ['Grand Canyon']
    """
    banned = {e.lower() for e in exclude}
    found: dict[str, None] = {}
    for sent in sentences(text):
        for match in _CAP_RUN.finditer(sent):
            words = match.group(1).split()
            initial = match.start() == 0
            cut = False
            while words and (words[0].lower() in _LEADERS or words[0].lower() in _DAYS):
                words, cut = words[1:], True
            if initial and not cut and len(words) > 1 and words[0].lower().endswith("ing"):
                words, cut = words[1:], True  # "Seeing Melanie ..."
            while cut and words and words[0].lower() in ("of", "the"):
                words = words[1:]
            words = [w for w in words if w.lower() not in _DAYS] if len(words) == 1 else words
            if not words:
                continue
            name = " ".join(words)
            if initial and not cut and len(words) == 1:
                continue  # sentence-initial single word: probably not a name
            if words[0].lower() in STOPWORDS and len(words) == 1:
                continue
            low = name.lower()
            if low in banned or name == "I" or _short_form(low, banned):
                continue
            found.setdefault(name, None)
    return list(found)


def _short_form(name: str, banned: set[str]) -> bool:
    """``name`` is the start of an excluded name, three letters or more ("mel", "caro")."""
    return len(name) >= 3 and " " not in name and any(b.startswith(name) for b in banned)


#: the words lemminflect's lexicon knows as base-form verbs ("to can", "to will") that after
#: "I" are modals or "be" and take no -s (a contraction never matches: see _I_VERB)
_NOT_CONJUGATED = frozenset("can will shall may must ought be".split())
#: adverbs that may stand between "I" and its verb ("I usually run" -> "Ana usually runs")
_ADVERBS = (
    "really also still just usually always typically normally often sometimes regularly "
    "generally never even actually definitely mostly rarely occasionally now totally truly "
    "honestly absolutely"
).split()


_I_VERB = re.compile(rf"\b(I(?: (?:{'|'.join(_ADVERBS)}))?)\s+([a-z]+)\b(?!['’])")


@lru_cache(maxsize=4096)
def _present_third(verb: str) -> str | None:
    """The third-person present of a base-form verb, or None when ``verb`` is not one (a past
    form, an adverb, a modal): "hold" -> "holds", "went" -> None, "can" -> None."""
    from lemminflect import getAllLemmas, getInflection  # its lexicon loads on first use

    if verb in _NOT_CONJUGATED or verb not in getAllLemmas(verb, upos="VERB").get("VERB", ()):
        return None
    forms = getInflection(verb, tag="VBZ")
    return forms[0] if forms else None


def _third_person_verb(match: re.Match[str]) -> str:
    verb = match.group(2)
    conj = _present_third(verb.lower())
    return f"{match.group(1)} {conj or verb}"


_PRONOUNS: Sequence[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bI am\b|\bI'm\b|\bI’m\b"), "{who} is"),
    (re.compile(r"\bI've\b|\bI’ve\b|\bI have\b"), "{who} has"),
    (re.compile(r"\bI don't\b|\bI don’t\b|\bI do not\b"), "{who} doesn't"),
    (re.compile(r"\bI haven't\b|\bI haven’t\b|\bI have not\b"), "{who} hasn't"),
    (re.compile(r"\bI'd\b|\bI’d\b"), "{who} would"),
    (re.compile(r"\bI'll\b|\bI’ll\b|\bI will\b"), "{who} will"),
    (re.compile(r"\bI was\b"), "{who} was"),
    (re.compile(r"\bI\b"), "{who}"),
    (re.compile(r"\b[Mm]yself\b"), "themself"),
    (re.compile(r"\b[Mm]y\b"), "{who}'s"),
    (re.compile(r"\b[Mm]ine\b"), "{who}'s"),
    (re.compile(r"\b(?<!')me\b"), "{who}"),
]


#: the pronoun typed in lower case ("i just moved", "i'm", "i've"), not "i.e." nor a letter
#: inside a word
_LOWER_I = re.compile(r"(?<![\w'’.-])i(?=['’](?:m|ve|d|ll)\b|\s|[,!?;:]|\.(?!e\.)|$)")


def capital_i(text: str) -> str:
    """People who type in lower case still speak in the first person.

    >>> capital_i("i just moved to denver and i'm happy, i.e. settled")
    "I just moved to denver and I'm happy, i.e. settled"
    >>> capital_i("a hi-fi in my wifi room: pi")
    'a hi-fi in my wifi room: pi'
    """
    return _LOWER_I.sub("I", text)


def third_person(sentence: str, who: str) -> str:
    """Rewrite a first-person sentence about ``who`` in the third person.

    >>> third_person("I'm moving to Boston with my sister.", "Ana")
    "Ana is moving to Boston with Ana's sister."
    >>> third_person("I really love painting and I go hiking.", "Ana")
    'Ana really loves painting and Ana goes hiking.'
    >>> third_person("I typically hold it for a minute, but I went home and I don't mind.", "Ana")
    "Ana typically holds it for a minute, but Ana went home and Ana doesn't mind."
    """
    out = _I_VERB.sub(_third_person_verb, sentence)
    for pattern, repl in _PRONOUNS:
        out = pattern.sub(repl.format(who=who), out)
    return out
