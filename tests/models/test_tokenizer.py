"""CLIP's tokenizer, built from the published vocabulary: its ids against an independent byte-pair encoder here and
against open_clip's own tokenizer in the open_clip lane, on sentences written for the test."""

import itertools
import re

import pytest

from negscope.data.forms import FORMS
from negscope.models.tokenizer import VOCAB_SIZE, byte_symbols, clip_bpe, clip_tokenizer

SUBJECTS = ["A man", "Two women", "a little girl", "The brown dog", "Several people", "A cat", "an old bus",
            "A young boy", "a group of kids", "The giraffe"]
ACTIONS = ["riding a bike down the street", "sitting on a wooden bench", "holding an umbrella in the rain",
           "standing next to a red fire hydrant", "eating a slice of pizza", "looking at 3 zebras",
           "playing frisbee in the park", "waiting for the train's doors to open", "isn't wearing a hat",
           "crossing the road near a stop sign"]
ENDINGS = ["", ".", "!", " at night.", ", without a helmet", " and a laptop is missing", " with no shoes on"]


def sentences(n: int = 200) -> list[str]:
    """`n` distinct COCO-style sentences: every third subject, action and ending combination."""
    return [f"{s} {a}{e}" for s, a, e in list(itertools.product(SUBJECTS, ACTIONS, ENDINGS))[::3][:n]]


def reference_ids(text: str) -> list[int]:
    """CLIP's encoding written out plainly: lower-case, split words, digits and punctuation, map bytes to symbols,
    then merge the lowest-ranked adjacent pair until none is left."""
    vocab, merges = clip_bpe()
    rank = {m: i for i, m in enumerate(merges)}
    symbols = byte_symbols()
    ids = [vocab["<|startoftext|>"]]
    for word in re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", " ".join(text.lower().split())):
        parts = [symbols[b] for b in word.encode("utf-8")]
        parts[-1] += "</w>"
        while len(parts) > 1:
            pair = min(itertools.pairwise(parts), key=lambda p: rank.get(p, len(rank)))
            if pair not in rank:
                break
            i = next(i for i in range(len(parts) - 1) if (parts[i], parts[i + 1]) == pair)
            parts[i : i + 2] = [pair[0] + pair[1]]
        ids += [vocab[p] for p in parts]
    return ids + [vocab["<|endoftext|>"]]


def test_vocabulary_and_known_ids():
    tok = clip_tokenizer()
    assert len(tok) == VOCAB_SIZE == 49408 and (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (49406, 49407, 49407)
    assert tok("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(tok(" ".join(["cat"] * 100), truncation=True)["input_ids"]) == 77


def test_two_hundred_sentences_tokenise_as_the_plain_encoder_does():
    tok, texts = clip_tokenizer(), sentences()
    assert len(set(texts)) == 200
    assert [tok(t)["input_ids"] for t in texts] == [reference_ids(t) for t in texts]


def test_the_plain_encoder_merges_whole_words_and_splits_rare_ones():
    assert reference_ids("unbelievably") == [49406, 33781, 49407] and len(reference_ids("a photon")) == 5


def test_every_word_of_every_negation_form_is_one_token():
    tok = clip_tokenizer()
    words = {w for form in FORMS.values() for w in re.findall(r"[a-z]+", form.example.lower())}
    assert {"without", "missing", "absolutely", "not", "no"} <= words
    split = {w: tok.tokenize(w) for w in words if len(tok.tokenize(w)) != 1}
    assert not split


@pytest.mark.openclip
def test_ids_equal_open_clips_tokenizer_built_from_its_own_vocabulary():
    tokenizer = pytest.importorskip("open_clip.tokenizer", reason="open_clip is not importable here (run .ci/openclip)")
    theirs = tokenizer.SimpleTokenizer()
    tok = clip_tokenizer()
    for text in sentences():
        assert tok(text)["input_ids"] == [theirs.sot_token_id, *theirs.encode(text), theirs.eot_token_id], text
