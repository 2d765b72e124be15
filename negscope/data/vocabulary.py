"""The words negscope's own models must know, derived from the caption and negation builders."""

from __future__ import annotations

import re

import numpy as np

from .negation import absence_pair, change_subject, mcq_item, presence_negation, seven_templates
from .world import CAPTION_TEMPLATES, CATEGORIES, DETERMINERS, captions_for


def vocabulary() -> list[str]:
    """Every word the world captions, the seven templates, the negations and the MCQ options use."""
    rng = np.random.default_rng(0)
    a, b = CATEGORIES[0], CATEGORIES[-1]
    texts = list(CATEGORIES) + list(DETERMINERS)
    texts += captions_for([a, b], rng, count=len(CAPTION_TEMPLATES))
    texts += captions_for([a], rng, count=len(CAPTION_TEMPLATES))
    cap = texts[-1]
    texts += seven_templates(cap, change_subject(cap, [a], b), cap).values()
    texts += [presence_negation(cap, a), *absence_pair(cap, b)]
    for _ in range(20):
        texts += mcq_item([a], [b], rng).options
    return sorted(set(re.findall(r"[a-z]+", " ".join(texts).lower())))
