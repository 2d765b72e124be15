import pytest

from negscope.data import world_dataset
from negscope.data.world import TRAIN_SEED
from negscope.finetune.validation import Validator, choose, retrieval_drop
from negscope.models import load_bundle


def _rec(step, negation, i2t, t2i):
    return {"step": step, "negation": negation, "i2t_r1": i2t, "t2i_r1": t2i}


BEFORE = _rec(0, 0.4, 0.6, 0.6)


def test_choice_is_the_best_negation_among_checkpoints_that_keep_retrieval():
    records = [BEFORE, _rec(20, 0.7, 0.61, 0.60), _rec(40, 0.9, 0.58, 0.62), _rec(60, 0.8, 0.60, 0.65)]
    chosen = choose(records, tolerance=0.0)
    assert chosen.record["step"] == 60 and chosen.admissible  # step 40 is better at negation but lost i2t R@1
    assert choose(records, tolerance=0.02).record["step"] == 40
    assert retrieval_drop(records[2], BEFORE) == pytest.approx(0.02)


def test_without_an_admissible_checkpoint_the_best_negation_is_kept_and_the_note_says_so():
    chosen = choose([BEFORE, _rec(20, 0.9, 0.50, 0.6), _rec(40, 0.7, 0.57, 0.58)], tolerance=0.0)
    assert chosen.record["step"] == 20 and not chosen.admissible
    assert "fell by 0.100 (least fall: 0.030 at step 40" in chosen.note


def test_the_model_before_fine_tuning_is_never_chosen():
    with pytest.raises(ValueError, match="lower validate_every"):
        choose([BEFORE], tolerance=0.0)


def test_validator_scores_without_changing_training_mode():
    bundle = load_bundle("tiny")
    bundle.train_text()
    v = Validator(bundle, world_dataset(12, seed=TRAIN_SEED), ["no"])
    assert len(v.presence) == len(v.absence) == 12  # one pair of each per image, on its first caption
    record = v.score(7)
    assert record["step"] == 7 and 0 <= record["negation"] <= 1 and set(record) >= {"i2t_r1", "t2i_r1"}
    assert bundle.model.text_model.training and not bundle.model.vision_model.training
    assert v.score(7) == record
