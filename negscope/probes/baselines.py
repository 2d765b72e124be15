"""The non-contextual bag-of-words baseline: token counts under the model's own tokenizer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..models import ClipBundle


def token_counts(bundle: ClipBundle, texts: Sequence[str]) -> np.ndarray:
    """(texts, distinct tokens) matrix of how often each token occurs in each text, special tokens included."""
    tokens = bundle.tokenize(texts)
    ids, mask = tokens["input_ids"].numpy(), tokens["attention_mask"].numpy().astype(bool)
    vocab, cols = np.unique(ids[mask], return_inverse=True)
    rows = np.nonzero(mask)[0]
    counts = np.zeros((len(ids), len(vocab)), dtype=np.float32)
    np.add.at(counts, (rows, cols), 1.0)
    return counts
