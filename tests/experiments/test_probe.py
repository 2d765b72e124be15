"""`negscope probe` end to end on the tiny model: output format, files, resume and CLI errors."""

import csv
import json

import pytest

from negscope.cli import main
from negscope.data import load_dataset
from negscope.experiments.config import Common, ProbesConfig
from negscope.experiments.probe import capture_task, run_probes
from negscope.hooks import store as store_module
from negscope.models import load_bundle
from negscope.probes import scope_task
from negscope.results import ProbesResult


def test_probe_writes_json_csv_figures_and_resumes(tmp_path, monkeypatch):
    cfg = ProbesConfig(limit=10, folds=2, n_boot=50)
    result = run_probes(Common(model="tiny"), cfg, tmp_path, progress=False)
    assert ProbesResult.load(tmp_path) == result
    saved = json.loads((tmp_path / "probes.json").read_text())
    assert set(saved["tasks"]) == {"negated", "scope"}
    for task in saved["tasks"].values():
        assert [r["site"] for r in task["sites"]] == ["text.embed"] + [f"text.block.{k}" for k in range(4)]
        for r in task["sites"]:
            assert not {"layer", "index"} & set(r)
            assert set(r) >= {"site", "accuracy", "ci_low", "ci_high", "control_accuracy", "selectivity"}
            assert r["ci_low"] <= r["accuracy"] <= r["ci_high"]
            assert r["selectivity"] == pytest.approx(r["accuracy"] - r["control_accuracy"])
        assert set(task["baselines"]) == {"embedding", "bag_of_words"}
    assert saved["tasks"]["scope"]["baselines"]["bag_of_words"]["accuracy"] <= 0.5
    assert [set(d) for d in saved["divergence"]] == [{"site", "mean_cosine"}] * 5
    with open(tmp_path / "probes.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * (5 + 2) + 5
    assert list(rows[0]) == ["task", "site", "accuracy", "ci_low", "ci_high", "control_accuracy", "selectivity", "mean_cosine"]
    assert rows[0]["site"] == "text.embed"
    for name in ("probe_negated.png", "probe_scope.png", "divergence.png"):
        assert (tmp_path / name).stat().st_size > 1000

    monkeypatch.setattr(store_module, "_write_shard", lambda *a: pytest.fail("a finished shard was recomputed"))
    bundle = load_bundle("tiny")
    task = scope_task(load_dataset("world", limit=10))
    store = capture_task(bundle, task, tmp_path / "activations" / "scope", cfg)
    assert result.tasks["scope"].samples == len(store) == len(task)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["probe", "--model", "tiny", "--data", "world", "--limit", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "negscope probe: error: only 1 caption groups for 5 folds" in err and "--limit" in err
    assert main(["probe", "--model", "tiny", "--data", "world[:0]", "--out", str(tmp_path)]) == 2
    assert "no images" in capsys.readouterr().err
