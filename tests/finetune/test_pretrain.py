"""World pretraining as a library call: a two-step run on the tiny model, and the held-out measures."""

import numpy as np
import pytest
import torch

from negscope.finetune.config import WorldTrainConfig
from negscope.finetune.pretrain import pretrain_world, world_metrics
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
    assert set(metrics) == {"i2t_r1", "i2t_r5", "t2i_r1", "swap_accuracy", "presence_accuracy", "absence_accuracy"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())


def test_batch_larger_than_the_pool_is_refused():
    cfg = WorldTrainConfig(size="tiny", steps=1, batch_size=32, pool=16)
    with pytest.raises(ValueError, match="batch size 32 exceeds the pool of 16"):
        pretrain_world(cfg, progress=False)
