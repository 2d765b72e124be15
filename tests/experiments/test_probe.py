"""`negscope probe` end to end on the tiny model: output format, files, resume and CLI errors."""

import csv
import json

import pytest

from negscope.cli import main
from negscope.data import load_dataset
from negscope.experiments.config import Common, ProbesConfig
from negscope.experiments.probe import capture_task, format_summary, run_probes
from negscope.experiments.report import write_report
from negscope.hooks import store as store_module
from negscope.models import load_bundle
from negscope.probes import scope_task
from negscope.results import ProbesResult


def test_probe_writes_json_csv_figures_and_resumes(tmp_path, monkeypatch):
    run_dir, tmp_path = tmp_path, tmp_path / "probes"
    cfg = ProbesConfig(limit=20, folds=2, n_boot=50, seeds=2)
    result = run_probes(Common(model="tiny", untrained_copies=2, evidence_resamples=50), cfg, tmp_path, progress=False)
    assert ProbesResult.load(tmp_path) == result
    saved = json.loads((tmp_path / "probes.json").read_text())
    assert set(saved["tasks"]) == {"negated", "scope", "scope_position"}
    sites = ["text.embed"] + [f"text.block.{k}" for k in range(4)]
    for name, task in saved["tasks"].items():
        assert task["seeds"] == [0, 1]
        assert (task["at_object"] is None) == (name == "negated")
        for sweep in [task] + ([task["at_object"]] if task["at_object"] else []):
            assert [r["site"] for r in sweep["sites"]] == sites
            for r in sweep["sites"]:
                assert r["ci_low"] <= r["accuracy"] <= r["ci_high"] or r["accuracy_std"] > 0
                assert r["untrained_gain"] == pytest.approx(r["accuracy"] - r["untrained_accuracy"])
                assert r["untrained_accuracy"] == pytest.approx(sum(r["untrained_copies"]) / 2)
                assert r["gain_ci_low"] <= r["gain_ci_high"] and r["unconverged"] >= 0  # the first seed's interval
                assert r["control_selectivity"] == pytest.approx(r["accuracy"] - r["control_accuracy"])
                # a mean over seeds of accuracy minus the larger control
                assert r["selectivity"] <= min(r["control_selectivity"], r["untrained_gain"]) + 1e-9
        assert set(task["baselines"]) == {"embedding", "bag_of_words", "bigrams", "negator_position"}
        if task["at_object"]:  # the surface baselines of the text up to the object's last token
            assert set(task["at_object"]["baselines"]) == {"bag_of_words", "bigrams", "negator_position"}
    # at the first object's last token, "no" in the prefix gives scope_position's label exactly
    assert saved["tasks"]["scope_position"]["at_object"]["baselines"]["negator_position"]["accuracy"] > 0.9
    assert set(result.excluded) <= set(result.tasks) and "scope_position" in result.excluded
    assert (result.evidence is None) == (set(result.excluded) == set(result.tasks))  # evidence from the informative tasks
    if result.evidence is not None:
        assert result.evidence.untrained_seeds == [0, 1] and len(result.evidence.gain) == 4
    assert saved["tasks"]["scope"]["baselines"]["bag_of_words"]["accuracy"] <= 0.5
    assert saved["tasks"]["scope_position"]["baselines"]["negator_position"]["accuracy"] > 0.9
    assert all(d["untrained_cosine"] is not None for d in saved["divergence"])
    assert {p.name for p in (tmp_path / "activations").iterdir()} >= {"scope.untrained0", "scope.untrained1"}
    assert not (tmp_path / "activations" / "scope.untrained2").exists()
    with open(tmp_path / "probes.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * (5 + 4) + 2 * (5 + 3) + 5
    assert rows[0]["site"] == "text.embed" and rows[0]["position"] == "pooled"
    for name in ("probe_negated.png", "probe_scope.png", "probe_scope_position.png", "divergence.png"):
        assert (tmp_path / name).stat().st_size > 1000

    md = write_report(run_dir)[1].read_text()
    assert "control task that gives one random label to each recurring unit" in md
    assert "| object token | baseline: negator position" in md and "Left out of the block evidence: `scope_position`" in md
    summary = format_summary(result)
    assert "| scope_position | object token |" in summary and "Left out of the block evidence: `scope_position`" in summary
    monkeypatch.setattr(store_module, "_write_shard", lambda *a: pytest.fail("a finished shard was recomputed"))
    bundle = load_bundle("tiny")
    task = scope_task(load_dataset("world", limit=20, role="analysis"))
    store = capture_task(bundle, task, tmp_path / "activations" / "scope", cfg)
    assert result.tasks["scope"].samples == len(store) == len(task)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["probe", "--model", "tiny", "--data", "world", "--limit", "1", "--out", str(tmp_path)]) == 2
    assert "negscope probe: error: probes folds (5) is more than limit (1)" in capsys.readouterr().err
    assert main(["probe", "--model", "tiny", "--data", "world:2", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "negscope probe: error: only 2 caption groups for 5 folds" in err and "--limit" in err
    assert main(["probe", "--model", "tiny", "--data", "world[:0]", "--out", str(tmp_path)]) == 2
    assert "no images" in capsys.readouterr().err
