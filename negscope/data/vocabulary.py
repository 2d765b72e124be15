"""The words negscope's own models must know, derived from the caption and negation builders."""

from __future__ import annotations

import re

import numpy as np

from .forms import FORMS
from .negation import absence_pair, change_subject, mcq_item, presence_negation, seven_templates
from .phrases import plural
from .world import (
    ALONE,
    CAPTION_TEMPLATES,
    CATEGORIES,
    DETERMINERS,
    NEAR,
    PLURAL_DETERMINERS,
    POSITIONS,
    RELATIONS,
    RELATIVE_PRONOUNS,
    SIZE_WORDS,
    captions_for,
)


def vocabulary() -> list[str]:
    """Every word the world captions, the seven templates, the negation forms and the MCQ options use."""
    rng = np.random.default_rng(0)
    a, b = CATEGORIES[0], CATEGORIES[-1]
    texts = [*CATEGORIES, *map(plural, CATEGORIES), *DETERMINERS, *PLURAL_DETERMINERS, *RELATIVE_PRONOUNS, "is are",
             *POSITIONS, *RELATIONS, *NEAR, *ALONE, *(w for words in SIZE_WORDS.values() for w in words)]
    texts += [t.format(objects="", pair="", be="is are", this="this is these are") for t in CAPTION_TEMPLATES]
    cap = captions_for([a], rng, count=1)[0]
    texts += seven_templates(cap, change_subject(cap, [a], b), cap).values()
    texts += [presence_negation(cap, a), *absence_pair(cap, b), *(f.example for f in FORMS.values())]
    for _ in range(20):
        texts += mcq_item([a], [b], rng).options
    return sorted(set(re.findall(r"[a-z]+", " ".join(texts).lower())))
