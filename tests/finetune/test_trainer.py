import json

import pytest
import torch

from negscope.finetune.data import training_source
from negscope.finetune.trainer import STATE_FILE, NonFiniteLoss, TrainConfig, Trainer
from negscope.models import Block, load_bundle

CFG = {"steps": 4, "batch_size": 6, "lr": 1e-3, "warmup": 1, "save_every": 2}
PLAN = (Block(0), Block(2))


@pytest.fixture(scope="module")
def source():
    return training_source("world[:24]")


def _run(source, out, blocks=PLAN, callback=None, resume=False, **kw):
    bundle = load_bundle("tiny")
    trainer = Trainer(bundle, source, list(blocks), TrainConfig(**{**CFG, **kw}))
    trainer.fit(out, resume=resume, callback=callback, progress=False)
    return bundle


def test_trains_only_the_plan_and_loads_back(source, tmp_path):
    before = load_bundle("tiny").model.state_dict()
    bundle = _run(source, tmp_path)
    after = bundle.model.state_dict()
    changed = {n for n in after if not torch.equal(before[n], after[n])}
    assert any(n.startswith("text_model.encoder.layers.0.") for n in changed)
    assert any(n.startswith("text_model.encoder.layers.2.") for n in changed)
    assert "text_projection.weight" in changed
    assert not any(n.startswith(("vision_model.", "visual_projection", "text_model.encoder.layers.1.")) for n in changed)
    assert all(p.grad is None for p in bundle.model.vision_model.parameters())
    loaded = load_bundle(str(tmp_path)).model.state_dict()
    assert all(torch.equal(loaded[n], after[n]) for n in after)
    train = json.loads((tmp_path / "train.json").read_text())
    assert [h["step"] for h in train["history"]] == [1, 2, 3, 4]
    assert {"l1", "l2", "l3", "absence_nce", "original_nce", "text_margin", "loss", "lr"} <= set(train["history"][0])
    assert train["blocks"] == [0, 2] and "text_projection.weight" in train["trainable"]


def test_the_plain_clip_objective_trains_the_same_blocks_with_the_clip_loss_alone(source, tmp_path):
    omni = _run(source, tmp_path / "omni", validation=0).model.state_dict()
    plain = _run(source, tmp_path / "clip", validation=0, objective="clip").model.state_dict()
    history = json.loads((tmp_path / "clip" / "train.json").read_text())["history"]
    assert set(history[0]) >= {"loss", "lr"} and "l1" not in history[0] and "anchor" not in history[0]
    assert any(not torch.equal(omni[n], plain[n]) for n in omni if n.startswith("text_model.encoder.layers.0."))
    assert all(torch.equal(omni[n], plain[n]) for n in omni if n.startswith("text_model.encoder.layers.1."))


def test_lr_scale_sets_each_blocks_rate_and_a_zero_factor_leaves_its_block_alone(source, tmp_path):
    before = load_bundle("tiny").model.state_dict()
    flat = _run(source, tmp_path / "flat", validation=0).model.state_dict()
    ones = _run(source, tmp_path / "ones", validation=0, lr_scale=[1.0] * 4).model.state_dict()
    assert all(torch.equal(flat[n], ones[n]) for n in flat)
    scaled = _run(source, tmp_path / "scaled", validation=0, lr_scale=[1.0, 0.5, 0.0, 0.5]).model.state_dict()
    layer = "text_model.encoder.layers.{}."
    assert any(not torch.equal(before[n], scaled[n]) for n in scaled if n.startswith(layer.format(0)))
    assert all(torch.equal(before[n], scaled[n]) for n in scaled if n.startswith(layer.format(2)))
    assert "text_projection.weight" in {n for n in scaled if not torch.equal(before[n], scaled[n])}
    trainer = Trainer(load_bundle("tiny"), source, list(PLAN), TrainConfig(**{**CFG, "lr_scale": [1.0, 0.7, 0.25, 0.7]}))
    assert [g["lr"] for g in trainer.opt.param_groups] == [1e-3, 2.5e-4, 1e-3]
    with pytest.raises(ValueError, match="one factor per block"):
        Trainer(load_bundle("tiny"), source, list(PLAN), TrainConfig(**{**CFG, "lr_scale": [1.0]}))


def test_resume_after_interruption_matches_an_uninterrupted_run(source, tmp_path):
    whole = _run(source, tmp_path / "whole").model.state_dict()

    def interrupt(step, record):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(source, tmp_path / "cut", callback=interrupt)
    with pytest.raises(ValueError, match="--resume"):
        _run(source, tmp_path / "cut")
    with pytest.raises(ValueError, match=r"trained text blocks \[0, 2\], not \[0, 1\]; resume with --blocks 0,2"):
        _run(source, tmp_path / "cut", blocks=(0, 1), resume=True)
    with pytest.raises(ValueError, match="different settings"):
        _run(source, tmp_path / "cut", resume=True, lr=5e-4)
    resumed = _run(source, tmp_path / "cut", resume=True).model.state_dict()
    assert all(torch.equal(whole[n], resumed[n]) for n in whole)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(source, tmp_path):
    def poison(step, record):
        if step == 2:
            with torch.no_grad():
                bundle.model.text_projection.weight.fill_(float("nan"))

    bundle = load_bundle("tiny")
    trainer = Trainer(bundle, source, [0], TrainConfig(**CFG))
    with pytest.raises(NonFiniteLoss, match="step 3.*the checkpoint of step 2 in .* is kept"):
        trainer.fit(tmp_path, callback=poison, progress=False)
    state = torch.load(tmp_path / "checkpoint" / STATE_FILE, weights_only=True)
    assert state["step"] == 2
    kept = load_bundle(str(tmp_path / "checkpoint")).model
    assert all(torch.isfinite(p).all() for p in kept.parameters())


def test_nan_loss_before_any_checkpoint_promises_none(source, tmp_path):
    def poison(step, record):
        with torch.no_grad():
            bundle.model.text_projection.weight.fill_(float("nan"))

    bundle = load_bundle("tiny")
    trainer = Trainer(bundle, source, [0], TrainConfig(**{**CFG, "save_every": 100}))
    with pytest.raises(NonFiniteLoss, match="step 2.*no checkpoint had been written yet") as err:
        trainer.fit(tmp_path, callback=poison, progress=False)
    assert "is kept" not in str(err.value)
    assert not (tmp_path / "checkpoint").exists()


def test_validation_keeps_the_chosen_checkpoint(source, tmp_path):
    from negscope.data import world_dataset
    from negscope.data.world import TRAIN_SEED
    from negscope.finetune.validation import choose

    cfg = TrainConfig(**{**CFG, "steps": 6, "validate_every": 2, "lr": 1e-2})
    bundle = load_bundle("tiny")
    trainer = Trainer(bundle, source, list(PLAN), cfg, validation=world_dataset(10, seed=TRAIN_SEED, start=100))
    result = trainer.fit(tmp_path, progress=False)
    assert [v["step"] for v in result.validation] == [0, 2, 4, 6]
    step = choose(result.validation, 0.0).record["step"]
    assert result.chosen["record"]["step"] == step
    saved = load_bundle(str(tmp_path))
    assert trainer.validator.score(step) == {**result.chosen["record"]}  # the saved weights are the chosen step's
    best = load_bundle(str(tmp_path / "checkpoint" / "best")).model.state_dict()
    assert all(torch.equal(best[n], t) for n, t in saved.model.state_dict().items()) or step == 6


def test_patience_stops_early(source, tmp_path):
    from negscope.data import world_dataset
    from negscope.data.world import TRAIN_SEED

    cfg = TrainConfig(**{**CFG, "steps": 40, "validate_every": 1, "patience": 2, "lr": 1e-2})
    trainer = Trainer(load_bundle("tiny"), source, list(PLAN), cfg, validation=world_dataset(10, seed=TRAIN_SEED, start=100))
    result = trainer.fit(tmp_path, progress=False)
    chosen = result.chosen["record"]["step"]
    assert len(result.history) == chosen + 2 < 40  # two validations past the choice without a better one


def test_lora_trains_only_adapters_and_saves_plain_weights(source, tmp_path):
    pytest.importorskip("peft")
    before = load_bundle("tiny").model.state_dict()
    bundle = _run(source, tmp_path, lora_rank=2)
    after = load_bundle(str(tmp_path)).model.state_dict()
    assert set(after) == set(before)
    changed = {n for n in after if not torch.equal(before[n], after[n])}
    assert changed and all(n.startswith(("text_model.encoder.layers.0.", "text_model.encoder.layers.2.")) for n in changed)
    assert all(torch.equal(after[n], t) for n, t in bundle.model.state_dict().items())


def test_lora_resume_matches_an_uninterrupted_run(source, tmp_path):
    pytest.importorskip("peft")
    whole = _run(source, tmp_path / "whole", lora_rank=2).model.state_dict()

    def interrupt(step, record):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(source, tmp_path / "cut", callback=interrupt, lora_rank=2)
    resumed = _run(source, tmp_path / "cut", resume=True, lora_rank=2).model.state_dict()
    assert all(torch.allclose(whole[n], resumed[n], atol=1e-6) for n in whole)


def _one_step(source, cached, **kw):
    bundle = load_bundle("tiny")
    trainer = Trainer(bundle, source, list(PLAN), TrainConfig(**{**CFG, "cached_images": cached}), **kw)
    record = trainer.step()
    grads = {n: p.grad.clone() for n, p in bundle.model.named_parameters() if p.grad is not None}
    return record, grads, trainer


def test_cached_image_features_give_the_uncached_losses_and_gradients(source):
    cached, cached_grads, trainer = _one_step(source, True)
    plain, plain_grads, _ = _one_step(source, False)
    assert trainer.image_feats.shape[0] == len(source)
    assert {k for k in cached if k not in ("seconds", "step")} == {k for k in plain if k not in ("seconds", "step")}
    for k in cached:
        if k != "seconds":
            assert cached[k] == pytest.approx(plain[k], abs=1e-5), k
    assert cached_grads.keys() == plain_grads.keys() and cached_grads
    for n in cached_grads:
        torch.testing.assert_close(cached_grads[n], plain_grads[n], atol=1e-5, rtol=0)


def test_the_feature_cache_is_filled_once_and_read_by_the_next_trainer(source, tmp_path):
    _, grads, first = _one_step(source, True, cache=tmp_path)
    (folder,) = tmp_path.iterdir()
    shards = sorted(p.name for p in folder.iterdir())
    assert len(shards) == 2  # one shard: rows and keys
    _, again, second = _one_step(source, True, cache=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == shards
    torch.testing.assert_close(first.image_feats, second.image_feats, atol=0, rtol=0)
    for n in grads:
        torch.testing.assert_close(grads[n], again[n])


def test_batches_come_in_step_order_from_several_workers(source):
    from torch.utils.data import DataLoader

    from negscope.finetune.batches import StepBatches, draw

    bundle = load_bundle("tiny")
    batches = StepBatches(source, bundle, ["caption", "negated"], 6, seed=3, start=5, rank=1, world=2,
                          pixels=bundle.preprocess)
    loader = iter(DataLoader(batches, batch_size=None, num_workers=2))
    got = [next(loader) for _ in range(4)]
    assert [b["step"] for b in got] == [5, 6, 7, 8]
    for b in got:
        idx, examples = draw(source, 3, b["step"], 6)
        assert b["index"].tolist() == idx.tolist()
        mine = examples[3:]
        assert b["tokens"]["input_ids"].tolist() == bundle.tokenize([e.caption for e in mine] + [e.negated for e in mine])["input_ids"].tolist()
        assert torch.equal(b["pixels"], bundle.preprocess([source.pixels(int(i)) for i in idx[3:]]))
