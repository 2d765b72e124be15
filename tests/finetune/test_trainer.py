import json

import pytest
import torch

from negscope.finetune.data import training_source
from negscope.finetune.trainer import STATE_FILE, NonFiniteLoss, TrainConfig, Trainer
from negscope.models import Block, load_bundle

CFG = {"steps": 4, "batch_size": 6, "lr": 1e-3, "warmup": 1, "save_every": 2}
PLAN = (Block(0), Block(2))


@pytest.fixture(autouse=True)
def one_thread():
    # tiny models run fastest on one thread, and far faster than on oversubscribed shared cores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    with pytest.raises(NonFiniteLoss, match="step 3.*last good checkpoint"):
        trainer.fit(tmp_path, callback=poison, progress=False)
    state = torch.load(tmp_path / "checkpoint" / STATE_FILE, weights_only=True)
    assert state["step"] == 2
    kept = load_bundle(str(tmp_path / "checkpoint")).model
    assert all(torch.isfinite(p).all() for p in kept.parameters())
