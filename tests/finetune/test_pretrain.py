"""World pretraining as a library call: a two-step run on the tiny model, the held-out measures, and the caption
stream with its rare true negations."""

import dataclasses
import re
from collections import Counter

import numpy as np
import pytest
import torch

from negscope.data.forms import FORMS
from negscope.data.phrases import mentioned
from negscope.data.world import CATEGORIES, TRAIN_SEED, scene_text
from negscope.finetune.config import WorldTrainConfig
from negscope.finetune.pretrain import (
    form_words,
    negation_word_counts,
    pretrain_world,
    step_draws,
    training_caption,
    unseen_objects,
    world_metrics,
)
from negscope.models import new_bundle


def test_two_step_pretrain_moves_the_weights_and_reports_its_loss():
    cfg = WorldTrainConfig(size="tiny", steps=2, batch_size=8, warmup=1, pool=16, eval_scenes=8)
    before = new_bundle("tiny", cfg.seed).model.state_dict()
    bundle, record = pretrain_world(cfg, progress=False)
    after = bundle.model.state_dict()
    assert not bundle.model.training
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert np.isfinite(record["final_loss"]) and record["train_minutes"] >= 0 and record["threads"] >= 1
    assert bundle.model.logit_scale.item() <= np.log(100.0)
    metrics = world_metrics(bundle, cfg.eval_scenes)
    assert set(metrics) == {"i2t_r1", "i2t_r5", "t2i_r1", "swap_accuracy", "presence_accuracy", "absence_accuracy",
                            "flip_rate", "held_out_combinations", "seen_combinations"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values()), metrics


def test_pretraining_twice_with_one_seed_gives_the_same_weights():
    cfg = WorldTrainConfig(size="tiny", steps=3, batch_size=8, warmup=1, pool=16, negated_share=0.3)
    first, second = (pretrain_world(cfg, progress=False)[0].model.state_dict() for _ in range(2))
    assert all(torch.equal(first[k], second[k]) for k in first)
    other = pretrain_world(dataclasses.replace(cfg, seed=1), progress=False)[0].model.state_dict()
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_batch_larger_than_the_pool_is_refused():
    cfg = WorldTrainConfig(size="tiny", steps=1, batch_size=32, pool=16)
    with pytest.raises(ValueError, match="batch size 32 exceeds the pool of 16"):
        pretrain_world(cfg, progress=False)


def _caption(draw):
    objects, captions = scene_text(draw.scene, TRAIN_SEED)
    present = list(dict.fromkeys(o.name for o in objects))
    return captions, present, training_caption(draw, captions, present)


def test_a_small_share_of_captions_are_true_negations_in_every_form():
    cfg = WorldTrainConfig()
    draws = [d for step in range(300) for d in step_draws(cfg, step)]
    negated = [d for d in draws if d.negated]
    assert abs(len(negated) / len(draws) - cfg.negated_share) < 0.003
    for draw in draws[:200]:
        captions, _, text = _caption(draw)
        assert draw.negated or text in captions
    forms = Counter()
    for draw in negated[:400]:
        captions, present, text = _caption(draw)
        name = list(FORMS)[draw.form]
        forms[name] += 1
        absent = unseen_objects()
        negated_object = absent[int(draw.absent * len(absent))]
        assert mentioned(text, [negated_object]) and set(mentioned(text, CATEGORIES)) <= set(present)  # no world object negated
        source = captions[int(draw.caption * len(captions))]
        assert text == FORMS[name].absence(source, negated_object, present)[0]
        assert set(re.findall(r"[a-z]+", text.lower())) >= set(form_words()[name]), text
    assert set(forms) == set(FORMS)


def test_pretraining_negates_only_objects_the_world_never_shows_nor_names():
    words = {w for c in CATEGORIES for w in c.split()}
    assert len(unseen_objects()) > 60 and "orange" not in unseen_objects()  # a COCO fruit and a world colour
    assert all(not words & set(c.split()) for c in unseen_objects())


def test_the_draws_are_a_function_of_seed_and_step_alone():
    cfg = WorldTrainConfig(steps=10)
    assert step_draws(cfg, 3) == step_draws(WorldTrainConfig(steps=99), 3) != step_draws(cfg, 4)
    assert step_draws(cfg, 3) != step_draws(WorldTrainConfig(seed=1), 3)
    assert len({d.scene for d in step_draws(cfg, 0)}) == cfg.batch_size
    assert not any(d.negated for s in range(10) for d in step_draws(WorldTrainConfig(negated_share=0.0), s))


def test_form_words_are_what_each_form_adds():
    words = form_words()
    assert words["without"] == ["without"] and words["missing"] == ["and", "is", "missing"]
    assert words["absolutely_no"] == ["absolutely", "is", "no", "there"] and set(words) == set(FORMS)


@pytest.mark.slow
def test_every_form_word_is_read_at_least_a_hundred_times_in_default_pretraining():
    counts = negation_word_counts(WorldTrainConfig())
    assert set(counts) == {w for ws in form_words().values() for w in ws}
    assert min(counts.values()) >= 100, counts
