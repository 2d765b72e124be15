"""`negscope steer` writes a steered model folder that `negscope evaluate` (and every stage) takes as --model."""

import pytest

from negscope.cli import main
from negscope.results import EvaluationResult, SteerResult


@pytest.fixture(scope="module")
def steer_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("steer")
    assert main(["steer", "--model", "tiny", "--data", "world", "--out", str(out), "--limit", "8", "--validation", "10",
                 "--pool", "60", "--sites", "text.embed,text.block.1"]) == 0
    return out


def test_steer_names_its_choice_made_on_the_validation_split(steer_dir):
    res = SteerResult.load(steer_dir)
    assert res.validation.endswith("(validation)") and res.validation_images == 10 and res.captions == 16
    assert set(res.chosen) == {"source", "mode", "sites", "strength"} and res.chosen["sites"][0] in res.sites
    assert res.chosen["strength"] in {r["strength"] for r in res.records[1:] if r["sites"] == res.chosen["sites"]}
    assert res.records[0]["source"] is None and res.both is None and res.values > 0
    assert (steer_dir / "model" / "steering.json").is_file()


def test_evaluate_takes_the_steered_model_and_counts_what_it_changed(steer_dir, tmp_path):
    assert main(["evaluate", "--model", "tiny", "--model", str(steer_dir / "model"), "--data", "world", "--limit", "8",
                 "--out", str(tmp_path)]) == 0
    before, steered = EvaluationResult.load(tmp_path).rows
    assert steered.model == str(steer_dir / "model") and steered.weights_changed == 0 and before.steering_values == 0
    assert steered.steering_values == SteerResult.load(steer_dir).values and steered.changes
    assert steered.pos_mean == pytest.approx(before.pos_mean, abs=1e-6)  # positive captions hold no negator


def test_unknown_sites_and_a_missing_validation_split_are_named(tmp_path, capsys):
    assert main(["steer", "--model", "tiny", "--data", "world", "--out", str(tmp_path / "a"), "--limit", "4",
                 "--sites", "text.block.9"]) == 2
    assert "text.block.9 is out of range" in capsys.readouterr().err
    assert main(["steer", "--model", "tiny", "--data", "world", "--out", str(tmp_path / "b"), "--limit", "4",
                 "--validation", "0", "--pool", "60", "--sites", "text.embed"]) == 2
    assert "set [finetune] validation" in capsys.readouterr().err


def test_a_steered_model_is_not_fine_tuned(steer_dir, tmp_path, capsys):
    assert main(["finetune", "--model", str(steer_dir / "model"), "--data", "world", "--blocks", "0", "--steps", "1",
                 "--pool", "60", "--validation", "0", "--out", str(tmp_path / "ft")]) == 2
    assert "is a steered model" in capsys.readouterr().err
