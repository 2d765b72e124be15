import statistics

import pytest

from negscope.data.forms import FORMS
from negscope.experiments.config import Common, ConfigError, FinetuneConfig, RecipesConfig, parse_arm
from negscope.experiments.recipes import METRICS, form_scores, run_recipes
from negscope.finetune import run as finetune_run
from negscope.io import read_json
from negscope.results import EvaluationRow, RecipesResult
from negscope.results.base import build

COMMON = Common(model="tiny", data="world[:8]", workers=1)  # runs in this process, where the counting patch sees them
TRAIN = FinetuneConfig(blocks="front", batch_size=8, warmup=1, save_every=2, pool=40, validate_every=1)


def test_arms_parse_into_checked_finetune_settings():
    changes, cfg = parse_arm("lr=1e-4 forms=no+without lora_rank=4", FinetuneConfig())
    assert changes == {"lr": 1e-4, "forms": ["no", "without"], "lora_rank": 4}
    assert (cfg.lr, cfg.forms, cfg.lora_rank) == (1e-4, ["no", "without"], 4)
    assert parse_arm("default", FinetuneConfig()) == ({}, FinetuneConfig())
    for bad, message in [("lrr=1", "did you mean 'lr'"), ("forms=nope", "choose one of no"), ("lr=fast", "not a float"),
                         ("lr", "not key=value"), ("lr=-1", "at least 0")]:
        with pytest.raises(ConfigError, match=message):
            parse_arm(bad, FinetuneConfig())
    with pytest.raises(ConfigError, match="did you mean 'lr'"):  # checked when the config loads, before any stage
        RecipesConfig(arms=["default", "lrr=1"])


def test_recipes_on_tiny(tmp_path, monkeypatch):
    calls, original = [], finetune_run.fine_tune

    def counted(*args, cfg, seed, **kw):
        calls.append((args[3].parent.name, seed, cfg.lr, tuple(cfg.forms)))
        return original(*args, cfg=cfg, seed=seed, **kw)

    monkeypatch.setattr(finetune_run, "fine_tune", counted)
    out = tmp_path / "recipes"
    cfg = RecipesConfig(arms=["default", "forms=without lr=1e-2"], steps=2, limit=8, seeds=2)
    result = run_recipes(COMMON, TRAIN, cfg, out, progress=False)
    assert RecipesResult.load(out) == result and result.blocks == [0, 1] and result.seeds == [0, 1]
    assert sorted(calls) == [("default", 0, 3e-4, ("no", "not_true")), ("default", 1, 3e-4, ("no", "not_true")),
                             ("forms_without_lr_1e-2", 0, 1e-2, ("without",)),
                             ("forms_without_lr_1e-2", 1, 1e-2, ("without",))]
    default, without = result.rows
    assert without.overrides == {"forms": ["without"], "lr": 1e-2} and without.trained_forms == ["without"]
    runs = [build(EvaluationRow, read_json(out / "forms_without_lr_1e-2" / f"seed_{s}" / "set.json")["row"]) for s in (0, 1)]
    for f in FORMS:
        per_seed = [form_scores(r)[f] for r in runs]
        assert without.forms[f] == pytest.approx(statistics.mean(per_seed))
        assert without.forms_std[f] == pytest.approx(statistics.stdev(per_seed))
    held = [statistics.mean(v for f, v in form_scores(r).items() if f != "without") for r in runs]
    assert without.values["held_out"] == pytest.approx(statistics.mean(held))
    assert without.values["t2i_r1"] == pytest.approx(statistics.mean(r.metric("t2i_r1") for r in runs))
    assert set(default.values) == set(METRICS) and all(1 <= s <= 2 for s in default.chosen_steps)
    md = (out / "recipes.md").read_text()
    assert "| forms=without lr=1e-2 (without) |" in md and "*" in md and (out / "forms.png").is_file()

    calls.clear()  # a rerun reuses every finished run; a new seed trains only itself
    run_recipes(COMMON, TRAIN, cfg, out, progress=False)
    assert calls == []
    run_recipes(COMMON, TRAIN, RecipesConfig(arms=cfg.arms, steps=2, limit=8, seeds=3), out, progress=False)
    assert sorted(c[:2] for c in calls) == [("default", 2), ("forms_without_lr_1e-2", 2)]
