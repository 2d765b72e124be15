"""The shipped world CLIP: CLIP's tokenizer, half-size weights in a package under 30 MB, and a model card whose
figures show a model that knows its objects and the negation words yet is blind to negation."""

import json
from pathlib import Path

import pytest

import negscope
from negscope.finetune.pretrain import form_words
from negscope.models import load_bundle
from negscope.models.tokenizer import clip_tokenizer

WORLD = Path(negscope.__file__).parent / "models" / "world"


@pytest.fixture(scope="module")
def card():
    return json.loads((WORLD / "training.json").read_text())


def test_the_world_model_tokenises_like_clip():
    tokenizer, clip = load_bundle("world").tokenizer, clip_tokenizer()
    for text in ["a photo of two red square frames next to a big blue star", "This is not a cat, without a dog"]:
        assert tokenizer(text)["input_ids"] == clip(text)["input_ids"]
    for word in {w for words in form_words().values() for w in words}:
        assert len(clip(word, add_special_tokens=False)["input_ids"]) == 1, word


def test_the_package_stays_under_30_mb():
    size = sum(f.stat().st_size for f in Path(negscope.__file__).parent.rglob("*")
               if f.is_file() and "__pycache__" not in f.parts)
    assert size < 30e6, size


def test_the_card_counts_every_negation_word_read_at_least_a_hundred_times(card):
    counts = card["negation_words"]
    assert set(counts) == {w for words in form_words().values() for w in words} and min(counts.values()) >= 100
    text = (WORLD / "MODEL_CARD.md").read_text()
    assert all(f"{w} {n}" in text for w, n in counts.items())


def test_the_world_model_is_negation_blind_and_tells_its_objects_apart(card):
    m = card["metrics"]
    assert m["flip_rate"] >= 0.3 and m["presence_accuracy"] <= 0.6 and m["swap_accuracy"] >= 0.9
    assert 0.2 <= m["i2t_r1"] <= 0.8
    assert card["train_minutes"] <= 45 and card["threads"] <= 2
