"""A CLIP byte-level BPE tokenizer whose merges make each given word a single token."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from transformers import CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


@lru_cache(maxsize=1)
def _byte_chars() -> list[str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def learn_merges(words: list[str]) -> list[tuple[str, str]]:
    """Byte-pair merges, most frequent pair first, until every word is one symbol."""
    seqs = [list(w[:-1]) + [w[-1] + "</w>"] for w in words if w]
    merges: list[tuple[str, str]] = []
    while True:
        pairs = Counter((s[i], s[i + 1]) for s in seqs for i in range(len(s) - 1))
        if not pairs:
            return merges
        best = max(pairs, key=lambda p: (pairs[p], -len(p[0] + p[1]), p))
        merges.append(best)
        for s in seqs:
            i = 0
            while i < len(s) - 1:
                if (s[i], s[i + 1]) == best:
                    s[i : i + 2] = [s[i] + s[i + 1]]
                i += 1


def build_tokenizer(words: list[str], model_max_length: int = 77) -> CLIPTokenizer:
    """A CLIP tokenizer over all 256 bytes whose vocabulary holds each of `words` as one token."""
    base = _byte_chars()
    vocab = {t: i for i, t in enumerate(base + [c + "</w>" for c in base])}
    merges = learn_merges(sorted(set(words)))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab[BOS] = len(vocab)
    vocab[EOS] = len(vocab)
    return CLIPTokenizer(
        vocab=vocab, merges=merges, model_max_length=model_max_length
    )
