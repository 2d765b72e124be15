"""Negation builders on hand-written COCO-style captions (`negation_cases.json`)."""

import json
import re
from pathlib import Path

import pytest

from negscope.data import negation
from negscope.data.negation import NotMentioned, absence_pair, change_subject, presence_negation
from negscope.data.phrases import lexicon, mentions

CASES = json.loads((Path(__file__).parent / "negation_cases.json").read_text(encoding="utf-8"))
STRANDED = re.compile(r"\b(a|an|the|his|her|their|its|my|our|your|some|several|two|three|one)\s+(\w+\s+)?no\b",
                      flags=re.IGNORECASE)
# "no", then at most four modifier words, then the mention
NEGATED_BEFORE = re.compile(r"\bno\s+(?:[\w'-]+,?\s+){0,4}$", flags=re.IGNORECASE)


def _negate(case: dict) -> str:
    try:
        return presence_negation(case["caption"], case["name"])
    except NotMentioned:
        return "skip"


def _id(case: dict) -> str:
    return f"{case['caption']} | {case['name']}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_presence_negation(case):
    assert _negate(case) == case["presence"]


@pytest.mark.parametrize("case", [c for c in CASES if "changed" in c], ids=_id)
def test_change_subject(case):
    assert change_subject(case["caption"], [case["name"]], case["replacement"]) == case["changed"]


@pytest.mark.parametrize("case", [c for c in CASES if "absence" in c], ids=_id)
def test_absence_pair(case):
    assert list(absence_pair(case["caption"], case["absent"])) == case["absence"]


def test_the_cases_are_many_and_varied():
    assert len(CASES) >= 150 and len({c["caption"] for c in CASES}) >= 150
    assert sum(c["presence"] == "skip" for c in CASES) >= 15
    assert len({c["name"] for c in CASES}) >= 60


def test_no_word_is_stranded_before_no():
    stranded = [out for c in CASES if (out := _negate(c)) != "skip" and STRANDED.search(out)]
    assert stranded == []


def test_no_negation_both_names_and_negates_its_object():
    both = [(c["caption"], out) for c in CASES if (out := _negate(c)) != "skip"
            for m in mentions(out, c["name"]) if not NEGATED_BEFORE.search(out[: m.start])]
    assert both == []


def test_every_category_names_itself_and_each_phrase_one_category():
    lex = lexicon()
    names = {n for n in lex.owner.values() if n}
    assert len(names) == 80 and all(lex.owner[n] == n for n in names)
    assert lex.article == {"skis": "", "scissors": "a pair of", "broccoli": "some"}
    data = json.loads((Path(negation.__file__).parent / "coco_synonyms.json").read_text(encoding="utf-8"))
    words = [w for n, e in data.items() if not n.startswith("_") for key in ("synonyms", "plural", "mass", "not")
             for w in e.get(key, ())]
    assert len(words) == len(set(words))
