"""`negscope localise`: patching and erasure after fine-tuning against before, per block with paired intervals."""

import numpy as np
import pytest

from negscope.cli import main
from negscope.experiments.config import Common, LocalisationConfig
from negscope.experiments.localise import block_change, run_localisation
from negscope.finetune.config import TrainConfig
from negscope.finetune.run import fine_tune
from negscope.results import LocalisationResult

SITES = ["text.embed"] + [f"text.block.{k}" for k in range(4)]


def _tune(folder, lr):
    fine_tune("tiny", "world[:40]", "1", folder, cfg=TrainConfig(steps=3, batch_size=8, lr=lr, warmup=0, validation=0),
              pool=40, progress=False, evaluation="world")
    return folder


def test_a_change_across_one_block_is_found_there_and_the_inside_test_can_fail():
    images = np.repeat(np.arange(20), 2)
    noise = np.random.default_rng(0).normal(0, 0.01, size=(len(images), len(SITES)))
    before = noise
    after = noise + np.array([0, 0, 1, 1, 1]) * (1 + noise[:, :1])  # rises across block 1 only

    def curves(rows):
        return before[rows].mean(0), after[rows].mean(0)

    inside = block_change("test curve", SITES, curves, images, [1], 50, 0)
    assert inside.change == pytest.approx([0, 1, 0, 0], abs=0.02) and inside.certain[1]
    assert inside.inside > 0.5 and inside.inside_ci[0] > 0 and "sits in the trained blocks" in inside.sentence([1])
    outside = block_change("test curve", SITES, curves, images, [3], 50, 0)
    assert outside.inside_ci[1] < 0 and "sits outside the trained blocks" in outside.sentence([3])


def test_an_unchanged_model_shows_no_change_and_a_tuned_one_is_measured_per_block(tmp_path, capsys):
    common = Common(model="tiny", data="world[:12]", evidence_resamples=20)
    cfg = LocalisationConfig(limit=12, captions_per_image=1)
    same = run_localisation(common, cfg, _tune(tmp_path / "lr0", 0.0), tmp_path / "same", progress=False)
    for c in (same.patching, same.erasure):
        assert c.change == pytest.approx([0.0] * 4, abs=1e-5) and c.before == pytest.approx(c.after, abs=1e-5)
        assert max(map(abs, c.ci_low + c.ci_high)) < 1e-4
    assert same.trained_blocks == [1] and same.images == 12

    tuned = _tune(tmp_path / "tuned", 1e-2)
    assert main(["localise", "--model", "tiny", "--data", "world[:12]", "--limit", "12", "--captions-per-image", "1",
                 "--evidence-resamples", "20", "--tuned", str(tuned), "--out", str(tmp_path / "moved")]) == 0
    assert "after − before per block" in capsys.readouterr().out
    moved = LocalisationResult.load(tmp_path / "moved")
    for c in (moved.patching, moved.erasure):
        assert len(c.change) == 4 and all(lo <= v <= hi for v, lo, hi in zip(c.change, c.ci_low, c.ci_high))
        assert np.allclose(c.change, np.subtract(c.after, c.before))
    assert any(abs(v) > 1e-4 for v in moved.patching.change + moved.erasure.change)
    assert (tmp_path / "moved" / "localisation.png").stat().st_size > 1000
