"""The evaluation suite on the tiny model: row layout, ranges, reuse of image features, and the runner's rows."""

import dataclasses
import json
import math

import pytest

from negscope.data import world_dataset
from negscope.data.combinations import held_out_categories, names_held_out
from negscope.data.records import Dataset
from negscope.evaluation.features import image_features
from negscope.evaluation.suite import evaluate, evaluation_tasks, scored
from negscope.experiments.config import Common, EvaluateConfig
from negscope.experiments.evaluate import run_evaluate, seen_shares
from negscope.experiments.report import write_report
from negscope.finetune.data import training_source
from negscope.results import EvaluationResult

ACCURACIES = (
    "presence_accuracy", "absence_accuracy", "swap_accuracy", "both_negated_accuracy", "mcq_accuracy",
    "presence_all_pairs", "absence_all_pairs",
)


@pytest.fixture(scope="module")
def row(tiny, small_world):
    return evaluate(tiny, small_world, held_out=held_out_categories())


def test_row_holds_every_metric_in_range(row, small_world):
    assert row.model == "tiny" and row.images == len(small_world)
    assert all(0.0 <= row.metric(k) <= 1.0 for k in (*ACCURACIES, "flip_rate"))
    assert set(row.retrieval) == {f"{d}_r{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)}
    assert all(0.0 <= v <= 1.0 for v in row.retrieval.values())
    assert row.metric("i2t_r1") == row.retrieval["i2t_r1"]
    assert -1.0 <= row.neg_mean <= 1.0 and row.pairs == sum(len(r.captions) for r in small_world)
    assert row.absence_pairs_by_objects.keys() == row.absence_by_objects.keys() >= row.presence_by_objects.keys()
    assert all(0.0 <= v <= 1.0 for v in (*row.presence_by_objects.values(), *row.absence_by_objects.values()))


def test_every_accuracy_has_an_interval_and_every_metric_a_chance_level(row):
    for key in ("presence_accuracy", "absence_accuracy", "swap_accuracy", "both_negated_accuracy", "mcq_accuracy",
                "flip_rate", "i2t_r1", "t2i_r5"):
        low, high = row.interval(key)
        assert low <= row.metric(key) <= high
    assert row.chance["presence_accuracy"] == row.chance["both_negated_accuracy"] == 0.5
    assert row.chance["mcq_accuracy"] == 0.25
    assert 0.0 <= row.mcq_ties < 0.5  # a random tiny model's float scores rarely tie
    assert row.chance["t2i_r1"] == 1 / row.images and 0 < row.chance["i2t_r1"] < row.chance["i2t_r5"] < 1


def test_given_image_features_give_the_same_row(row, tiny, small_world):
    assert evaluate(tiny, small_world, image_feats=image_features(tiny, small_world), held_out=held_out_categories()) == row
    with pytest.raises(ValueError, match="image_feats has 7 rows for 8 images"):
        evaluate(tiny, small_world, image_feats=image_features(tiny, small_world)[:7])


def test_a_study_row_leaves_out_the_forms_and_the_seed_table_and_nothing_else(row, tiny, small_world):
    lean = evaluate(tiny, small_world, held_out=held_out_categories(), full=False)
    assert row.form_accuracy and not lean.form_accuracy
    assert 0 <= row.held_out_forms <= 1 and math.isnan(lean.held_out_forms) and math.isnan(lean.trained_forms)
    assert row.pairs > 0 and lean.pairs == 0 and math.isnan(lean.flip_rate) and not lean.templates
    seed_table = {k: getattr(row, k) for k in ("pairs", "pos_mean", "pos_std", "neg_mean", "neg_std", "flips",
                                               "flip_rate", "templates")}
    forms = {k: getattr(row, k) for k in ("form_accuracy", "trained_forms", "held_out_forms")}
    assert dataclasses.replace(lean, **forms, **seed_table,
                               intervals=lean.intervals | {"flip_rate": row.intervals["flip_rate"]}) == row


def test_tasks_built_once_give_the_same_rows(row, tiny, small_world, tmp_path):
    tasks = evaluation_tasks(small_world, seed=0)
    assert evaluate(tiny, small_world, tasks=tasks, held_out=held_out_categories()) == row
    with pytest.raises(ValueError, match="tasks cover 8 images, not the 4"):
        evaluate(tiny, Dataset(small_world.name, small_world.records[:4], small_world.categories), tasks=tasks)
    twice = run_evaluate(Common(model="tiny", data="world[:8]"), EvaluateConfig(), tmp_path, models=["tiny", "tiny"],
                         progress=False)
    costs = {"weights_changed": None, "seconds_per_1000_captions": row.seconds_per_1000_captions}
    assert [dataclasses.replace(r, changes={}, **costs) for r in twice.rows] == [row, row]
    assert [r.weights_changed for r in twice.rows] == [0, 0] and all(r.seconds_per_1000_captions > 0 for r in twice.rows)


def test_a_model_compared_with_itself_changes_nothing_real(tmp_path):
    result = run_evaluate(Common(model="tiny", data="world[:8]"), EvaluateConfig(), tmp_path, models=["tiny", "tiny"],
                          progress=False)
    before, after = result.rows
    assert before.changes == {} and result.trained_forms == ["no", "not_true"]
    expected = {"presence_accuracy", "absence_accuracy", "swap_accuracy", "mcq_accuracy", "flip_rate", "pos_mean",
                "trained_forms", "held_out_forms", "i2t_r1", "t2i_r10", "presence_all_pairs"}
    assert expected <= set(after.changes)
    for key, change in after.changes.items():
        assert change.change == 0 and change.ci_low == 0 == change.ci_high and not change.real, key
    for key in ("presence_accuracy", "mcq_accuracy", "flip_rate", "i2t_r1"):
        assert after.changes[key].before == after.changes[key].after == pytest.approx(after.metric(key))
    assert EvaluationResult.load(tmp_path) == result


def test_evaluate_runner_writes_the_suite_rows(row, tmp_path):
    result = run_evaluate(Common(model="tiny", data="world[:8]"), EvaluateConfig(), tmp_path, progress=False)
    assert [dataclasses.replace(result.rows[0], weights_changed=None, seconds_per_1000_captions=row.seconds_per_1000_captions)] == [row]
    assert json.loads((tmp_path / "evaluation.json").read_text())["rows"][0]["presence_accuracy"] == row.presence_accuracy
    assert EvaluationResult.load(tmp_path) == result


def test_report_tables_accuracy_by_number_of_objects(row, tmp_path):
    EvaluationResult("world[:8]", 0, 0, [row]).save(tmp_path / "evaluate")
    md = write_report(tmp_path)[1].read_text()
    for k, n in row.absence_pairs_by_objects.items():
        presence = f"{row.presence_by_objects[k]:.3f} ({row.presence_pairs_by_objects[k]})"
        assert f"| {k} | {presence} | {row.absence_by_objects[k]:.3f} ({n}) |" in md
    assert f"| all, every pair | {row.presence_all_pairs:.3f} | {row.absence_all_pairs:.3f} |" in md


def test_held_out_and_seen_combinations_are_rows_of_their_own(row, tiny, small_world):
    held = held_out_categories()
    _, values = scored(tiny, small_world, held_out=held)
    negs = evaluation_tasks(small_world).negations
    for kind in ("presence", "absence"):
        pairs = [p for n in negs for p in getattr(n, kind)]
        named = [any(names_held_out(t, held) for t in p) for p in pairs]
        assert 0 < sum(named) < len(pairs)  # both parts hold pairs on these scenes
        wins = values[f"{kind}_accuracy"].values
        held_wins = [w for w, h in zip(wins, named) if h]
        seen_wins = [w for w, h in zip(wins, named) if not h]
        assert row.combination_accuracy["held_out"][kind] == pytest.approx(sum(held_wins) / len(held_wins))
        assert row.combination_accuracy["seen"][kind] == pytest.approx(sum(seen_wins) / len(seen_wins))
    for part in ("held_out", "seen"):
        assert row.metric(f"{part}_combinations") == pytest.approx(sum(row.combination_accuracy[part].values()) / 2)
        low, high = row.interval(f"{part}_combinations")
        assert low <= row.metric(f"{part}_combinations") <= high and row.chance[f"{part}_combinations"] == 0.5
    plain = evaluate(tiny, small_world)  # without held-out categories there is no combination row
    assert plain.combination_accuracy == {} and "seen_combinations" not in plain.intervals


def test_runner_reports_combinations_and_the_seen_share(tmp_path):
    result = run_evaluate(Common(model="tiny", data="world[:8]"), EvaluateConfig(), tmp_path, models=["tiny", "tiny"],
                          progress=False, train_data="world", pool=40)
    assert result.held_out == list(held_out_categories())
    assert {"held_out_combinations", "seen_combinations"} <= set(result.rows[1].changes)
    assert set(result.seen_share) == {"captions", "negations"} and all(0 <= v <= 1 for v in result.seen_share.values())
    assert EvaluationResult.load(tmp_path) == result


def test_seen_shares_find_the_texts_fine_tuning_reads():
    pool = training_source("world[:6]", forms=["no"])
    trained = Dataset("pool", pool.records, pool.categories)  # evaluating the pool's own scenes: all seen
    shares = seen_shares(trained, evaluation_tasks(trained), pool)
    assert shares == {"captions": 1.0, "negations": 1.0}
    other = training_source("world[:6]", forms=["not_true"])  # another form: no negated text is one it reads
    assert seen_shares(trained, evaluation_tasks(trained), other)["negations"] == 0.0


def test_texts_like_the_evaluated_captions_find_every_seen_text():
    pool = training_source("world[:60]", forms=["no", "without", "missing"])
    mixed = Dataset("mixed", pool.records[:20] + world_dataset(40).records, pool.categories)
    tasks = evaluation_tasks(mixed)
    captions = [c for r in mixed for c in r.captions]
    negated = [f for n in tasks.negations for _, f in n.presence] + [t for n in tasks.negations for t, _ in n.absence]
    every, like = pool.texts(), pool.texts(like=captions)
    assert len(like) < len(every) / 2
    assert [t in like for t in captions + negated] == [t in every for t in captions + negated]
    assert 0 < seen_shares(mixed, tasks, pool)["negations"] < 1
