"""Surface baselines: what a linear read-out gets from the caption's tokens alone, with no model states.

- ``bag_of_words``: how often each token occurs (the model's own tokenizer, special tokens included);
- ``bigrams``: how often each adjacent token pair occurs;
- ``negator_position``: whether a negator ("no", "not", ...) occurs, and the position of the first one
  divided by the number of real tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..models import ClipBundle

SURFACE_BASELINES = {
    "bag_of_words": "token counts",
    "bigrams": "counts of adjacent token pairs",
    "negator_position": "has a negator; first negator's position / token length",
}


def _real_ids(bundle: ClipBundle, texts: Sequence[str]) -> list[np.ndarray]:
    tokens = bundle.tokenize(texts)
    ids, mask = tokens["input_ids"].numpy(), tokens["attention_mask"].numpy().astype(bool)
    return [row[m] for row, m in zip(ids, mask)]


def _counts(rows: list[tuple]) -> np.ndarray:
    vocab = {key: k for k, key in enumerate(sorted({key for row in rows for key in row}))}
    counts = np.zeros((len(rows), len(vocab)), dtype=np.float32)
    for i, row in enumerate(rows):
        for key in row:
            counts[i, vocab[key]] += 1.0
    return counts


def token_counts(bundle: ClipBundle, texts: Sequence[str]) -> np.ndarray:
    """(texts, distinct tokens) matrix of how often each token occurs in each text, special tokens included."""
    return _counts([tuple(int(t) for t in row) for row in _real_ids(bundle, texts)])


def bigram_counts(bundle: ClipBundle, texts: Sequence[str]) -> np.ndarray:
    """(texts, distinct token pairs) matrix of how often each adjacent token pair occurs in each text."""
    return _counts([tuple(zip(row[:-1].tolist(), row[1:].tolist())) for row in _real_ids(bundle, texts)])


def negator_position(bundle: ClipBundle, texts: Sequence[str]) -> np.ndarray:
    """(texts, 2): 1 if a negator occurs (else 0), and its first position over the token length (0 if none)."""
    rows = _real_ids(bundle, texts)
    negator = set(bundle.negator_ids.tolist())
    out = np.zeros((len(rows), 2), dtype=np.float32)
    for i, row in enumerate(rows):
        hits = [k for k, t in enumerate(row.tolist()) if t in negator]
        if hits:
            out[i] = (1.0, hits[0] / len(row))
    return out


def surface_features(bundle: ClipBundle, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Every surface baseline's features for `texts`, by the names of `SURFACE_BASELINES`."""
    return {"bag_of_words": token_counts(bundle, texts), "bigrams": bigram_counts(bundle, texts),
            "negator_position": negator_position(bundle, texts)}
