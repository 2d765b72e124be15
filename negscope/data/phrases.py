"""Object mentions in English captions, with their noun phrase, number and indefinite article.

`coco_synonyms.json` maps each COCO category to the words captions use for it, e.g.
    "person":   {"synonyms": ["person", "man", ...]}     singular count nouns; their plurals are derived
    "skis":     {"plural": ["skis"], "article": ""}      plural-only words, matched as written
    "broccoli": {"mass": ["broccoli"], "article": "some"} mass nouns: no plural, either number
    "bus":      {"synonyms": [...], "not": ["bus stop"]}  phrases that name no such object
`article` is what comes before the category name in "with X" ("" for none); without it, inflect's a/an.
A name not in the file, like the shapes world's "red circle", names only itself and its plural.

A mention is the longest known phrase at its place ("hot dog" before "dog"). One directly followed by another
mention, by a noun-only word or, when it can be an adjective, by a noun modifies that word and is no mention of
its own: "baby elephant", "bird feeder", "orange collar".
Its noun phrase is [slot] [modifiers] mention. The slot is the determiner: articles, possessives ("his",
"the man's"), demonstratives agreeing in number, numerals, quantifiers ("some", "a few", "a group of",
"lots of") and partitives ("one of the"). Modifiers are up to four words between slot and mention:
adjectives and participles, then singular nouns ("a red tennis ball"), with "and" or "," only between
adjectives; a closed-class word (preposition, conjunction, pronoun, auxiliary), a plural or a verb form ends
them. With no slot to reach, only adjectives, noun-only and unknown words right after a boundary (the start,
punctuation, a closed-class word or an inflected verb) are modifiers: "red cars", "hits no tennis balls".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from lemminflect import getAllInflections, getAllLemmas


@cache
def _inflect():  # inflect takes seconds to import: loaded on first use, so `negscope --help` does not pay for it
    import inflect

    return inflect.engine()


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())

_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*'?|[^\w\s]")

ARTICLES = frozenset({"a", "an", "the"})
POSSESSIVES = frozenset({"my", "his", "her", "its", "our", "their", "your"})
NUMBERS = _set("one two three four five six seven eight nine ten eleven twelve dozen")
SINGULAR_DETERMINERS = frozenset({"a", "an", "one", "this", "that", "another", "each", "every"})
PLURAL_DETERMINERS = frozenset(NUMBERS - {"one"} | {"these", "those", "several", "many", "few", "multiple", "various",
                                                    "numerous", "both", "all"})
CENTRAL = ARTICLES | POSSESSIVES | {"this", "that", "these", "those", "some", "another", "each", "every", "any", "no"}
POST = NUMBERS | {"several", "many", "few", "multiple", "various", "numerous", "other"}
PRE = frozenset({"all", "both", "half"})
PARTITIVE = NUMBERS | {"some", "all", "many", "most", "several", "few", "each", "both", "any", "none"}
QUANTITY = _set("couple pair group bunch lot herd flock pile number crowd team pack set stack row line fleet handful "
                "variety assortment collection bundle cluster slice piece school swarm litter")
BARE_QUANTITY = frozenset({"lots", "plenty", "dozens", "hundreds", "thousands", "tons", "loads"})
DETERMINERS = CENTRAL | POST | PRE
CLOSED = _set("""about above across after against along among and around as at atop before behind below beneath
    beside besides between beyond but by down during for from if in inside into like near nor of off on onto or out
    outside over past since so than that then through to toward towards under underneath until up upon via while with
    within without it he she they we i you him them us me there here who whom whose which what where when why how
    is are was were be been being am has have had do does did can could will would may might should must not""")
CONTRACTIONS = frozenset({"it's", "that's", "there's", "here's", "he's", "she's", "what's", "who's", "where's", "let's"})


@dataclass(frozen=True)
class Lexicon:
    """Surface phrases: their category (None for phrases that name nothing) and number (None when either)."""

    owner: dict[str, str | None]
    plural: dict[str, bool | None]
    article: dict[str, str]
    longest: int


@dataclass(frozen=True)
class Mention:
    """A mention: its characters [start, end), its words as written, its number and its word indices."""

    start: int
    end: int
    text: str
    plural: bool | None
    first: int
    last: int


@dataclass(frozen=True)
class NounPhrase:
    """A mention's noun phrase: where it starts, where its modifiers start, and its slot ('' when bare)."""

    start: int
    modifiers: int
    slot: str


@cache
def plural_forms(phrase: str) -> frozenset[str]:
    """`phrase` with its last word in the plural, as inflect and lemminflect write it."""
    *head, last = phrase.split()
    forms = {_inflect().plural_noun(last)} | set(getAllInflections(last, upos="NOUN").get("NNS", ())[:1])
    return frozenset(" ".join([*head, f]) for f in forms if f)


def _add(forms: dict[str, bool | None], word: str, plural: bool) -> None:
    forms[word] = None if forms.get(word, plural) != plural else plural


def _forms(entry: dict) -> dict[str, bool | None]:
    forms: dict[str, bool | None] = {}
    for word in entry.get("synonyms", ()):
        _add(forms, word, False)
        for p in plural_forms(word):
            _add(forms, p, True)
    for word in entry.get("plural", ()):
        _add(forms, word, True)
    for word in entry.get("mass", ()):
        forms[word] = None  # a mass noun reads as either number
    return forms


@cache
def lexicon() -> Lexicon:
    """The COCO categories' phrases, from `coco_synonyms.json`."""
    data = json.loads(files("negscope.data").joinpath("coco_synonyms.json").read_text(encoding="utf-8"))
    owner: dict[str, str | None] = {}
    plural: dict[str, bool | None] = {}
    for name, entry in data.items():
        if name.startswith("_"):
            continue
        for word, number in _forms(entry).items():
            owner.setdefault(word, name)
            plural.setdefault(word, number)
        for word in entry.get("not", ()):
            owner.setdefault(word, None)
    article = {n: e["article"] for n, e in data.items() if not n.startswith("_") and "article" in e}
    return Lexicon(owner, plural, article, max(len(w.split()) for w in owner))


@cache
def coco_categories() -> tuple[str, ...]:
    """The 80 COCO category names of the synonym file."""
    return tuple(sorted({n for n in lexicon().owner.values() if n}))


def known(name: str) -> bool:
    """Whether `name` is a category of the synonym file."""
    return name in lexicon().owner and lexicon().owner[name] == name


@cache
def _name_forms(name: str) -> dict[str, bool | None]:
    return {} if known(name) else _forms({"synonyms": [name.lower()]})


@lru_cache(maxsize=2**16)  # inflect's rules take a third of the time of drawing a dataset's negations
def indefinite(phrase: str, name: str | None = None) -> str:
    """`phrase` (by default `name`) with the indefinite form `name` takes: 'an apple', 'some broccoli', 'skis'."""
    art = lexicon().article.get(name if name is not None else phrase)
    if art is None:
        return _inflect().a(phrase)
    return f"{art} {phrase}".strip()


def plural(name: str) -> str:
    """`name` in the plural; mass and plural-only category names stay as they are."""
    *head, last = name.split()
    return name if name in lexicon().article else " ".join([*head, _inflect().plural_noun(last) or last])


@lru_cache(maxsize=2**16)
def singular(phrase: str) -> str:
    """`phrase` in the singular when it is a regular or irregular plural, else as it is."""
    *head, last = phrase.split()
    s = _singular_of(last)
    return " ".join([*head, s]) if s and s != last and last in {f.split()[-1] for f in plural_forms(s)} else phrase


@cache
def _lemmas(word: str) -> dict[str, tuple[str, ...]]:
    return getAllLemmas(word)


def _word(token: str) -> bool:
    return token[:1].isalnum()


def _inflected_verb(word: str) -> bool:
    verbs = _lemmas(word).get("VERB", ())
    return bool(verbs) and word not in verbs


def _adjective(word: str) -> bool:
    return "ADJ" in _lemmas(word) or (word.endswith(("ing", "ed", "en")) and _inflected_verb(word))


def _singular_noun(word: str) -> bool:
    lemmas = _lemmas(word)
    if lexicon().plural.get(word):
        return False
    return not lemmas or word in lemmas.get("NOUN", ()) or word in lemmas.get("PROPN", ())


def _noun_only(word: str) -> bool:
    lemmas = _lemmas(word)
    return bool(lemmas) and set(lemmas) <= {"NOUN", "PROPN"} and word not in CLOSED | DETERMINERS


def _possessor(word: str) -> bool:
    return word.endswith(("'s", "’s", "s'")) and word not in CONTRACTIONS


def _agrees(det: str, plural: bool | None) -> bool:
    if det in SINGULAR_DETERMINERS:
        return plural is not True
    return det not in PLURAL_DETERMINERS or plural is not False


@cache
def _singular_of(word: str) -> str | None:
    return _inflect().singular_noun(word) or None


def _quantity(word: str) -> bool:
    return word in QUANTITY or _singular_of(word) in QUANTITY


def _slot_start(words: list[str], j: int, plural: bool | None) -> int | None:
    """The first word of the determiner slot that ends just before word `j`, or None when there is none."""
    k = j
    if k >= 2 and words[k - 1] == "of" and (words[k - 2] in BARE_QUANTITY or _quantity(words[k - 2])):
        q = k - 2
        lead = q - 1 if q >= 1 and words[q - 1] not in DETERMINERS and _adjective(words[q - 1]) else q
        plural_quantity = words[q] in BARE_QUANTITY or _singular_of(words[q]) is not None
        start = _slot_start(words, lead, plural_quantity)
        if start is not None:
            return start
        return lead if plural_quantity else None
    post = None
    if k and (words[k - 1] in POST or words[k - 1].isdigit()) and _agrees(words[k - 1], plural):
        k -= 1
        post = words[k]
    if post is None:
        central = k > 0 and words[k - 1] in CENTRAL and _agrees(words[k - 1], plural)
    else:  # after a numeral or quantifier: "the two", "these few", "a few", "a dozen"
        central = k > 0 and words[k - 1] in CENTRAL and (
            post in ("few", "dozen") if words[k - 1] in ("a", "an") else _agrees(words[k - 1], post != "one"))
    if central:
        k -= 1
        if words[k] in POSSESSIVES | {"the", "these", "those"} and k >= 2 and words[k - 1] == "of" \
                and words[k - 2] in PARTITIVE:
            k -= 2
            k -= 1 if k and words[k] == "few" and words[k - 1] == "a" else 0
    elif k and _possessor(words[k - 1]):
        phrase = _phrase(words, k - 1, None)
        k = phrase[1] if phrase[1] is not None else phrase[0]
    if k and words[k - 1] in PRE:
        k -= 1
    return k if k < j else None


def _boundary(words: list[str], i: int) -> bool:
    return i == 0 or not _word(words[i - 1]) or words[i - 1] in CLOSED or _inflected_verb(words[i - 1])


def _bare_modifier(word: str) -> bool:
    lemmas = _lemmas(word)
    return (_word(word) and word not in CLOSED | DETERMINERS
            and (not lemmas or "ADJ" in lemmas or _noun_only(word) and _singular_noun(word)))


def _phrase(words: list[str], head: int, plural: bool | None) -> tuple[int, int | None]:
    """(first modifier, slot start or None) of the noun phrase whose mention starts at word `head`."""
    slot = _slot_start(words, head, plural)
    i, seen_adjective = head, False
    while slot is None and i > 0 and head - i < 4:
        w = words[i - 1]
        if w in ("and", ",") and head > i >= 2 and _adjective(words[i - 2]) and _adjective(words[i]):
            i -= 1
            continue
        if not _word(w) or w in CLOSED | DETERMINERS or _possessor(w):
            break
        if _adjective(w):
            seen_adjective = True
        elif seen_adjective or not _singular_noun(w):
            break
        i -= 1
        slot = _slot_start(words, i, plural)
    if slot is not None:
        return i, slot
    i = head
    while i > 0 and head - i < 3 and _bare_modifier(words[i - 1]):
        i -= 1
    while i < head and not _boundary(words, i):
        i += 1
    return i, None


def _tokens(text: str) -> tuple[list[re.Match], list[str]]:
    tokens = list(_TOKEN.finditer(text))
    return tokens, [t.group().lower() for t in tokens]


def _base(word: str) -> str:
    return re.sub(r"['’]s$|(?<=s)'$", "", word) if _possessor(word) else word


def _counted(words: list[str], first: int) -> bool:
    """Whether the noun phrase whose mention starts at word `first` has a slot that asks for a plural: 'two', 'a
    pair of'."""
    modifiers, slot = _phrase(words, first, True)
    last = words[modifiers - 1] if slot is not None and slot < modifiers else ""
    return last == "of" or last in PLURAL_DETERMINERS or last.isdigit() and last != "1"


def _modifies_next(words: list[str], first: int, last: int, plural: bool | None, mention_follows: bool) -> bool:
    """Whether the phrase of words `first`..`last` modifies the next word, a noun or a mention, and names nothing."""
    if last + 1 >= len(words) or _possessor(words[last]):
        return False
    after = words[last + 1]
    if mention_follows and not _inflected_verb(after) or _noun_only(after):
        return True
    # a singular after a count that asks for a plural modifies the plural noun that follows: "two dog beds"
    if plural is False and _singular_of(after) and "NOUN" in _lemmas(after) and _counted(words, first):
        return True
    # an adjective reading before a noun: "an orange collar"
    return ("ADJ" in _lemmas(words[last]) and "NOUN" in _lemmas(after) and not _inflected_verb(after)
            and after not in CLOSED | DETERMINERS)


def mentions(text: str, name: str) -> list[Mention]:
    """Every mention of the object `name` in `text`, by its name, its plural or a synonym, in order."""
    lex, own = lexicon(), _name_forms(name)
    tokens, words = _tokens(text)
    bases = [_base(w) for w in words]
    longest = max([lex.longest, *(len(w.split()) for w in own)])
    reach = [0] * (len(words) + 1)  # how many words from here a phrase may span: no punctuation, possessive last
    for t in range(len(words) - 1, -1, -1):
        reach[t] = 0 if not _word(words[t]) else 1 if _possessor(words[t]) else 1 + reach[t + 1]
    found: list[tuple[int, int, str | None, bool | None]] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, reach[i]), 0, -1):
            key = " ".join(bases[i : i + n])
            if key in own or key in lex.owner:
                owner = name if key in own else lex.owner[key]
                found.append((i, i + n - 1, owner, own[key] if key in own else lex.plural.get(key)))
                i += n
                break
        else:
            i += 1
    out = []
    for k, (first, last, owner, plural) in enumerate(found):
        if _modifies_next(words, first, last, plural, k + 1 < len(found) and found[k + 1][0] == last + 1):
            continue
        if owner == name:
            start, end = tokens[first].start(), tokens[last].start() + len(bases[last])
            out.append(Mention(start, end, text[start:end], plural, first, last))
    return out


def mentioned(text: str, names: list[str]) -> list[str]:
    """The names among `names` that `text` mentions, in the order of `names`."""
    return [n for n in names if mentions(text, n)]


def noun_phrase(text: str, mention: Mention) -> NounPhrase:
    """The noun phrase around `mention` in `text`."""
    tokens, words = _tokens(text)
    mods, slot = _phrase(words, mention.first, mention.plural)
    if slot is None:
        return NounPhrase(tokens[mods].start(), tokens[mods].start(), "")
    slot_text = " ".join(t.group().lower() for t in tokens[slot:mods])
    return NounPhrase(tokens[slot].start(), tokens[mods].start(), slot_text)


def slot_plural(slot: str) -> bool:
    """Whether a count noun after the determiner slot `slot` ('' when bare) reads best in the plural."""
    last = slot.split()[-1] if slot else ""
    return last in PLURAL_DETERMINERS | {"", "of", "some"} or last.isdigit() and last != "1"


def leading_slot_end(text: str) -> int:
    """Where `text` goes on after its leading determiner slot (articles, numerals, quantifiers, possessives)."""
    tokens, words = _tokens(text)
    for j in range(min(len(words) - 1, 6), 0, -1):
        slot = words[:j]
        if _slot_start(words, j, None) == 0 and not {"this", "that", "these", "those"} & set(slot) \
                and not any(_possessor(w) for w in slot):
            return tokens[j].start()
    return 0
