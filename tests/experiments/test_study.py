import csv
import dataclasses
import statistics

import numpy as np
import pytest
from scipy.stats import ttest_rel

from negscope.experiments.config import Common, FinetuneConfig, StudyConfig
from negscope.experiments.study import (
    METRICS,
    against_chance,
    evidence_weighted,
    front_back_test,
    random_sets,
    run_layer_study,
    summarise,
)
from negscope.finetune import run as finetune_run
from negscope.io import read_json
from negscope.results import EvaluationRow, StudyResult
from negscope.results.base import build
from negscope.results.study import SeedRun

COMMON = Common(model="tiny", data="world[:8]", workers=1)  # runs in this process, where the counting patch sees them
TRAIN = FinetuneConfig(batch_size=8, warmup=1, save_every=2, pool=40)


def _marker_times(folder):
    return {p.parent.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.glob("**/set.json")}


def _count_fine_tunes(monkeypatch):
    """Record (set, seed) of every fine-tuning the study starts from now on."""
    calls, original = [], finetune_run.fine_tune

    def counted(*args, seed, **kw):
        calls.append((args[3].parent.name, seed))
        return original(*args, seed=seed, **kw)

    monkeypatch.setattr(finetune_run, "fine_tune", counted)
    return calls


def _run(seed, negation):
    return SeedRun(seed, dict.fromkeys(METRICS, 0.5), dict.fromkeys(METRICS, 0.0), negation)


def test_layer_study_over_two_seeds_on_tiny(tmp_path, write_selection, monkeypatch):
    combined = [0.6, 0.3, 0.1, 0.0]
    sel = write_selection(tmp_path, [0, 1], combined)
    out = tmp_path / "study"
    cfg = StudyConfig(steps=2, limit=8, seeds=2, random_sets=0)
    result = run_layer_study(COMMON, TRAIN, cfg, out, selection=sel, progress=False)
    assert StudyResult.load(out) == result and result.against_chance is None
    assert result.seeds == [0, 1] and result.train_config["steps"] == 2 and result.images == 8
    sets = {r.set: r for r in result.rows}
    # the selected blocks are the front third's, and every rule takes them at their size: trained once, reported once
    assert list(sets) == ["front", "middle", "back", "all", "selected_clip_loss", "evidence_weighted"]
    assert sets["front"].same_as == ["selected", "rule_front", "rule_top", "rule_window"]
    weighted = sets["evidence_weighted"]
    assert weighted.blocks == [0, 1, 2] and weighted.lr_scale == pytest.approx([1.0, 0.5, 1 / 6, 0.0])
    assert read_json(out / "evidence_weighted" / "seed_0" / "train.json")["config"]["lr_scale"] == weighted.lr_scale
    assert weighted.label == "evidence_weighted (0×1.00,1×0.50,2×0.17)"
    assert sets["selected_clip_loss"].objective == "clip" and sets["selected_clip_loss"].blocks == [0, 1]
    assert read_json(out / "selected_clip_loss" / "seed_0" / "train.json")["config"]["objective"] == "clip"
    assert sets["all"].blocks == [0, 1, 2, 3] and sets["front"].blocks == [0, 1] and not (out / "selected").exists()
    assert abs(sets["front"].analysis_coverage - sum(combined[k] for k in sets["front"].blocks)) < 1e-9

    for r in result.rows:
        assert sorted(p.name for p in (out / r.set).iterdir()) == ["seed_0", "seed_1"]
        assert [run.seed for run in r.runs] == [0, 1]
        for run in r.runs:
            folder = out / r.set / f"seed_{run.seed}"
            assert read_json(folder / "train.json")["seed"] == run.seed
            stored = build(EvaluationRow, read_json(folder / "set.json")["row"])
            assert all(run.values[m] == stored.metric(m) for m in METRICS)  # each seed's own evaluation
            assert all(abs(run.gains[m] - (run.values[m] - result.baseline[m])) < 1e-9 for m in METRICS)
            negation = (run.gains["presence_accuracy"] + run.gains["absence_accuracy"]) / 2
            assert abs(run.negation_gain - negation) < 1e-9
        weights = [(out / r.set / f"seed_{s}" / "model.safetensors").read_bytes() for s in (0, 1)]
        assert weights[0] != weights[1]  # the seed reached the trainer
        for m in METRICS:
            per_seed = [run.values[m] for run in r.runs]
            assert abs(r.values[m] - statistics.mean(per_seed)) < 1e-9
            assert abs(r.std[m] - statistics.stdev(per_seed)) < 1e-9
            assert abs(r.gains[m] - statistics.mean(run.gains[m] for run in r.runs)) < 1e-9
        assert abs(r.negation_gain - statistics.mean(run.negation_gain for run in r.runs)) < 1e-9
        assert abs(r.negation_gain_std - statistics.stdev(run.negation_gain for run in r.runs)) < 1e-9
    assert -1 <= result.rank_correlation.spearman_rho <= 1 and result.rank_correlation.n == 4  # the binary omni sets

    fb = result.front_back
    diff = [f.negation_gain - b.negation_gain for f, b in zip(sets["front"].runs, sets["back"].runs, strict=True)]
    assert fb.seeds == [0, 1] and fb.n == 2
    assert abs(fb.mean_difference - statistics.mean(diff)) < 1e-9 and abs(fb.std_difference - statistics.stdev(diff)) < 1e-9
    if max(diff) - min(diff) > 1e-9:
        expected = ttest_rel([r.negation_gain for r in sets["front"].runs], [r.negation_gain for r in sets["back"].runs])
        assert fb.t_statistic == pytest.approx(expected.statistic) and fb.p_value == pytest.approx(expected.pvalue)
    else:
        assert fb.p_value is None and "same for every seed" in fb.note

    md = (out / "study.md").read_text()
    assert "mean ± std over 2 seeds" in md and "| front = selected = rule_front = rule_top = rule_window (0,1) | " in md and " ± " in md
    assert md.index("Spearman") < md.index("Front vs back") and fb.note in md
    rows = list(csv.DictReader((out / "study.csv").open()))
    front = "front = selected = rule_front = rule_top = rule_window"
    assert [(r["set"], r["seed"]) for r in rows[:3]] == [(front, "0"), (front, "1"), (front, "mean")]
    assert len(rows) == 6 * 3
    assert (out / "study.png").is_file()

    before = _marker_times(out)
    assert len(before) == 1 + 6 * 2
    calls = _count_fine_tunes(monkeypatch)
    again = run_layer_study(COMMON, TRAIN, cfg, out, selection=sel, progress=False)
    assert calls == [] and _marker_times(out) == before  # same inputs: every finished (set, seed) run is reused
    assert again == result


def test_one_seed_gives_no_p_value_and_more_seeds_train_only_the_new_ones(tmp_path, monkeypatch):
    out = tmp_path / "study"
    one = run_layer_study(COMMON, TRAIN, StudyConfig(steps=1, limit=8, seeds=1, score_on="analysis"), out, progress=False)
    assert "analysis split" in one.eval_data  # scored on images evaluation never reads
    fb = one.front_back
    assert (fb.n, fb.t_statistic, fb.p_value, fb.std_difference) == (1, None, None, 0.0)
    assert "at least 2 seeds" in fb.note and fb.note in (out / "study.md").read_text()
    assert all(r.std == dict.fromkeys(METRICS, 0.0) and r.negation_gain_std == 0.0 for r in one.rows)
    assert StudyResult.load(out).front_back == fb

    first = _marker_times(out)
    calls = _count_fine_tunes(monkeypatch)
    two = run_layer_study(COMMON, TRAIN, StudyConfig(steps=1, limit=8, seeds=2, score_on="analysis"), out, progress=False)
    assert calls == [("front", 1), ("middle", 1), ("back", 1), ("all", 1)]
    second = _marker_times(out)
    assert all(second[k] == t for k, t in first.items())
    assert [r.runs[0] for r in two.rows] == [r.runs[0] for r in one.rows]
    assert two.front_back.n == 2


def test_the_evidence_weighted_arm_scales_by_the_strongest_block_and_freezes_blocks_without_evidence():
    blocks, change = evidence_weighted([0.2, -0.1, 0.8, 0.0])
    assert blocks == [0, 2] and change == {"lr_scale": [0.25, 0.0, 1.0, 0.0]}
    with pytest.raises(ValueError, match="no block has evidence above 0"):
        evidence_weighted([0.0, -0.2])


def test_summarise_takes_mean_and_sample_std_over_seeds():
    runs = [SeedRun(s, dict.fromkeys(METRICS, v), dict.fromkeys(METRICS, v - 0.5), g)
            for s, v, g in [(0, 0.5, 0.1), (1, 0.7, 0.3), (2, 0.9, 0.2)]]
    row = summarise("front", [0], None, runs)
    assert row.values["presence_accuracy"] == pytest.approx(0.7) and row.std["presence_accuracy"] == pytest.approx(0.2)
    assert row.gains["i2t_r1"] == pytest.approx(0.2)
    assert row.negation_gain == pytest.approx(0.2) and row.negation_gain_std == pytest.approx(0.1)
    assert summarise("front", [0], None, runs[:1]).std["presence_accuracy"] == 0.0


def test_front_back_test_pairs_the_shared_seeds_like_scipy():
    front = summarise("front", [0], None, [_run(s, g) for s, g in enumerate([0.30, 0.10, 0.25, 0.9])])
    back = summarise("back", [3], None, [_run(s, g) for s, g in [(0, 0.1), (1, 0.05), (2, 0.2), (7, 0.0)]])
    fb = front_back_test(front, back)
    expected = ttest_rel([0.30, 0.10, 0.25], [0.1, 0.05, 0.2])
    assert fb.seeds == [0, 1, 2] and fb.n == 3
    assert fb.mean_difference == pytest.approx(0.1) and fb.std_difference == pytest.approx(statistics.stdev([0.2, 0.05, 0.05]))
    assert fb.t_statistic == pytest.approx(expected.statistic) and fb.p_value == pytest.approx(expected.pvalue)
    assert fb.p_value > 0.05 and fb.note.startswith("front and back do not differ beyond seed noise")
    assert f"p = {fb.p_value:.3g}" in fb.sentence()

    back = summarise("back", [3], None, [_run(s, g) for s, g in enumerate([0.02, 0.05, -0.04, 0.6])])
    fb = front_back_test(front, back)
    assert fb.p_value == pytest.approx(ttest_rel([0.30, 0.10, 0.25, 0.9], [0.02, 0.05, -0.04, 0.6]).pvalue)
    assert fb.p_value < 0.05 and fb.note.startswith("front and back differ beyond seed noise") and "front gains more" in fb.note

    same = summarise("back", [3], None, [_run(s, g - 0.1) for s, g in enumerate([0.30, 0.10, 0.25, 0.9])])
    fb = front_back_test(front, same)
    assert fb.p_value is None and fb.t_statistic is None and "same for every seed" in fb.note


def test_changed_settings_or_weights_redo_the_sets(tmp_path, tiny):
    model = tiny.save(tmp_path / "model")
    common = dataclasses.replace(COMMON, model=str(model))
    out = tmp_path / "study"
    run_layer_study(common, TRAIN, StudyConfig(steps=1, limit=8, seeds=1), out, progress=False)
    first = _marker_times(out)
    trained = {"front/seed_0", "middle/seed_0", "back/seed_0", "all/seed_0"}
    assert set(first) == {"baseline"} | trained

    changed = run_layer_study(common, TRAIN, StudyConfig(steps=2, limit=8, seeds=1), out, progress=False)
    second = _marker_times(out)
    assert changed.train_config["steps"] == 2
    assert second["baseline"] == first["baseline"]  # the model and the evaluation did not change
    assert all(second[s] != first[s] for s in trained)

    weights = model / "model.safetensors"
    tiny.save(model)  # the same folder, written anew: its files' times change, so their content may have
    assert weights.is_file()
    run_layer_study(common, TRAIN, StudyConfig(steps=2, limit=8, seeds=1), out, progress=False)
    third = _marker_times(out)
    assert all(third[s] != second[s] for s in third)


def test_random_sets_are_distinct_of_the_selected_size_and_never_the_selected_set():
    sets = random_sets(12, [0, 1], 10, np.random.default_rng(0))
    assert len(sets) == 10 and len({tuple(b) for b in sets}) == 10
    assert all(len(b) == 2 and b == sorted(b) and b != [0, 1] for b in sets)
    assert sets == random_sets(12, [0, 1], 10, np.random.default_rng(0))
    assert sorted(map(tuple, random_sets(4, [1, 2], 10, np.random.default_rng(1)))) == [
        (0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]  # fewer exist than asked: all of them


def _row(name, blocks, gains):
    return summarise(name, blocks, None, [_run(s, g) for s, g in enumerate(gains)])


def test_against_chance_ranks_the_selected_set_and_can_say_no():
    randoms = {f"random_{i}": _row(f"random_{i}", [i, i + 1], [0.1 + 0.01 * i, 0.12, 0.11]) for i in range(20)}
    best = against_chance({"selected": _row("selected", [0, 5], [0.4, 0.5, 0.45])} | randoms, list(randoms))
    assert best.rank == 1 and best.p_value == pytest.approx(1 / 21) and best.interval[0] > 0
    assert best.sentence().startswith("The analysis-selected blocks 0, 5 beat chance: among 20 random sets of 2 blocks")
    single = dataclasses.replace(best, blocks=[4])
    assert single.sentence().startswith("The analysis-selected block 4 beats chance: among 20 random sets of 1 block ")
    assert "it ranks" in single.sentence()
    middling = against_chance({"selected": _row("selected", [0, 5], [0.15, 0.1, 0.2])} | randoms, list(randoms))
    assert middling.rank > 1 and middling.p_value > 0.05 and "do not beat chance" in middling.sentence()
    assert against_chance({"selected": _row("selected", [0], [0.1])}, []) is None


def test_layer_study_ranks_the_selected_set_among_random_sets(tmp_path, write_selection):
    sel = write_selection(tmp_path, [1, 3], [0.1, 0.6, 0.0, 0.3])
    cfg = StudyConfig(steps=2, limit=8, seeds=2, random_sets=2)
    result = run_layer_study(COMMON, TRAIN, cfg, tmp_path / "study", selection=sel, progress=False)
    chance = result.against_chance
    names = [n for r in result.rows for n in (r.set, *r.same_as)]
    assert {"random_1", "random_2"} <= set(names) and len(chance.random_gains) == 2 and chance.seeds == [0, 1]
    assert all(len(b) == 2 and b != [1, 3] for b in chance.random_sets)
    # each rule at the selected size: front and window take blocks 0-1 (the front third's), top the selected 1 and 3
    sets = {r.set: r for r in result.rows}
    assert {"rule_front", "rule_window"} <= set(sets["front"].same_as) and "rule_top" in sets["selected"].same_as
    assert chance.p_value == (1 + sum(g >= chance.selected_gain for g in chance.random_gains)) / 3
    assert StudyResult.load(tmp_path / "study") == result
    assert chance.sentence() in (tmp_path / "study" / "study.md").read_text()
