"""The evaluation suite on the tiny model: row layout, ranges, reuse of image features, and the runner's rows."""

import json

import pytest

from negscope.evaluation.features import image_features
from negscope.evaluation.suite import evaluate, flat
from negscope.experiments.evaluate import run_evaluate

ACCURACIES = ("presence_accuracy", "absence_accuracy", "swap_accuracy", "mcq_accuracy")


@pytest.fixture(scope="module")
def row(tiny, small_world):
    return evaluate(tiny, small_world)


def test_row_holds_every_metric_in_range(row, small_world):
    assert row["model"] == "tiny" and row["images"] == len(small_world)
    assert set(row) >= {*ACCURACIES, "mcq_by_type", "retrieval", "pos_mean", "neg_mean", "flip_rate"}
    assert all(0.0 <= row[k] <= 1.0 for k in ACCURACIES)
    assert set(row["retrieval"]) == {f"{d}_r{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)}
    assert all(0.0 <= v <= 1.0 for v in row["retrieval"].values())
    assert flat(row)["i2t_r1"] == row["retrieval"]["i2t_r1"]


def test_given_image_features_give_the_same_row(row, tiny, small_world):
    assert evaluate(tiny, small_world, image_feats=image_features(tiny, small_world)) == row
    with pytest.raises(ValueError, match="image_feats has 7 rows for 8 images"):
        evaluate(tiny, small_world, image_feats=image_features(tiny, small_world)[:7])


def test_evaluate_runner_writes_the_suite_rows(row, tmp_path):
    rows = run_evaluate(["tiny"], "world[:8]", tmp_path)
    assert rows == [row]
    assert json.loads((tmp_path / "evaluation.json").read_text())["rows"][0]["presence_accuracy"] == row["presence_accuracy"]
