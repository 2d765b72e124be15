"""CLIP's byte-pair tokenizer, built from the published vocabulary that ships with negscope.

`bpe_simple_vocab_16e6.txt.gz` is the merge list OpenAI released with CLIP (MIT licence; open_clip ships the same
file). The vocabulary is the 256 byte symbols, the same with the end-of-word mark `</w>`, one symbol per merge (the
first 49,408 − 512 − 2 merges of the file) and the start and end tokens: 49,408 ids, as in
`openai/clip-vit-base-patch32`. Captions are lower-cased and cut to the 77-token context.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from transformers import CLIPTokenizerFast

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
VOCAB_FILE = Path(__file__).with_name("bpe_simple_vocab_16e6.txt.gz")
VOCAB_SIZE = 49408


@lru_cache(maxsize=1)
def byte_symbols() -> dict[int, str]:
    """Byte → the printable symbol byte-level BPE writes it as (printable bytes keep their own), in the order of
    CLIP's vocabulary: the bytes that keep their symbol first."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in kept]
    return {b: chr(b) for b in kept} | {b: chr(256 + k) for k, b in enumerate(moved)}


@lru_cache(maxsize=1)
def clip_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary (symbol → id) and merges, most frequent first, read from the shipped file."""
    with gzip.open(VOCAB_FILE, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : VOCAB_SIZE - 2 * 256 - 2 + 1]]
    single = list(byte_symbols().values())
    symbols = [*single, *(s + "</w>" for s in single), *("".join(m) for m in merges), BOS, EOS]
    return {s: i for i, s in enumerate(symbols)}, merges


@lru_cache(maxsize=2)
def clip_tokenizer(model_max_length: int = 77) -> CLIPTokenizerFast:
    """CLIP's tokenizer (49,408 ids; start, end and padding as `openai/clip-vit-base-patch32`'s).

    Args:
        model_max_length: the context length captions are cut to.

    Returns:
        A fast Hugging Face CLIP tokenizer (do not change it in place: it is shared).
    """
    vocab, merges = clip_bpe()
    return CLIPTokenizerFast(vocab=vocab, merges=merges, model_max_length=model_max_length, pad_token=EOS,
                             bos_token=BOS, eos_token=EOS, unk_token=EOS)
