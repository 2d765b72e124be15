import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from negscope.experiments import run as run_mod
from negscope.experiments.config import RunConfig, load_config, with_overrides
from negscope.experiments.run import MARKER, Stage, run, stage_hashes
from negscope.io import read_json, write_json

TINY_TOML = """
name = "tiny"
model = "tiny"
data = "world[:8]"
stages = {stages}
[similarity]
limit = 8
[probes]
limit = 12
folds = 2
n_boot = 20
[attribution]
limit = 3
steps = 4
examples = 2
[patching]
limit = 8
[selection]
resamples = 10
[finetune]
blocks = "{blocks}"
pool = 16
steps = {steps}
batch_size = 4
warmup = 1
save_every = 2
[evaluate]
limit = 8
[study]
steps = 2
limit = 8
"""
ANALYSIS = ["similarity", "probes", "attribution", "patching", "selection", "finetune", "evaluate"]


def tiny_config(path: Path, stages=("similarity", "finetune", "evaluate"), blocks="front", steps=4) -> Path:
    path.write_text(TINY_TOML.format(stages=json.dumps(list(stages)), blocks=blocks, steps=steps))
    return path


@pytest.fixture
def fake_stages(monkeypatch):
    """Three cheap stages (similarity, probes, selection <- probes) that log their calls; probes can be made to fail."""
    calls: list[str] = []
    fail = {"probes": False}

    def make(name):
        def stage(cfg, root):
            calls.append(name)
            folder = root / name
            write_json(folder / "part1.json", {"value": float(np.random.rand()), "seed": cfg.seed})
            if fail.get(name):
                fail[name] = False
                raise KeyboardInterrupt
            prior = read_json(root / "probes" / "part1.json")["value"] if name == "selection" else 0.0
            write_json(folder / "result.json", {"value": float(np.random.rand()) + prior})

        return stage

    stages = (Stage("similarity", (), make("similarity")), Stage("probes", (), make("probes")),
              Stage("selection", ("probes",), make("selection")))
    monkeypatch.setattr(run_mod, "STAGE_LIST", stages)
    return calls, fail


CFG = RunConfig(stages=["similarity", "probes", "selection"])


def results(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.json"))
            if p.name not in (MARKER, "config.json")}


def test_rerun_skips_complete_stages(fake_stages, tmp_path):
    calls, _ = fake_stages
    status = run(CFG, tmp_path, report=False)
    assert status == {"similarity": "done", "probes": "done", "selection": "done"}
    marker = read_json(tmp_path / "probes" / MARKER)
    assert marker["config_hash"] == stage_hashes(CFG)["probes"] and marker["config"]["probes"]["limit"] == CFG.probes.limit
    assert read_json(tmp_path / "config.json")["stages"] == CFG.stages
    assert run(CFG, tmp_path, report=False) == {"similarity": "skipped", "probes": "skipped", "selection": "skipped"}
    assert calls == ["similarity", "probes", "selection"]


def test_changed_section_redoes_the_stage_and_its_dependents(fake_stages, tmp_path):
    calls, _ = fake_stages
    run(CFG, tmp_path, report=False)
    (tmp_path / "probes" / "stray.txt").write_text("from the old config")
    calls.clear()
    status = run(with_overrides(CFG, {"probes": {"folds": 2}}), tmp_path, report=False)
    assert status == {"similarity": "skipped", "probes": "done", "selection": "done"}
    assert calls == ["probes", "selection"]
    assert not (tmp_path / "probes" / "stray.txt").exists()


def test_interrupted_run_resumes_to_identical_results(fake_stages, tmp_path):
    calls, fail = fake_stages
    run(CFG, tmp_path / "whole", report=False)
    fail["probes"] = True
    with pytest.raises(KeyboardInterrupt):
        run(CFG, tmp_path / "cut", report=False)
    assert (tmp_path / "cut" / "similarity" / MARKER).is_file()
    assert (tmp_path / "cut" / "probes" / "part1.json").is_file() and not (tmp_path / "cut" / "probes" / MARKER).exists()
    calls.clear()
    status = run(CFG, tmp_path / "cut", report=False)
    assert status == {"similarity": "skipped", "probes": "done", "selection": "done"}
    assert calls == ["probes", "selection"]
    assert results(tmp_path / "cut") == results(tmp_path / "whole")


def test_unconfigured_stages_are_left_alone(fake_stages, tmp_path):
    status = run(RunConfig(stages=["probes"]), tmp_path, report=False)
    assert status == {"similarity": "not configured", "probes": "done", "selection": "not configured"}
    assert not (tmp_path / "similarity").exists()


def test_whole_tiny_run_and_report(tmp_path):
    cfg_path = tiny_config(tmp_path / "tiny.toml")
    from threadpoolctl import threadpool_limits

    from negscope.cli import main

    # t-SNE's OpenMP threads spin for seconds when the test machine's cores are shared; one thread is enough here.
    with threadpool_limits(1, user_api="openmp"):
        assert main(["run", "--config", str(cfg_path), "--out", str(tmp_path / "r")]) == 0
    root = tmp_path / "r"
    for stage in ("similarity", "finetune", "evaluate"):
        assert (root / stage / MARKER).is_file()
    rows = read_json(root / "evaluate" / "evaluation.json")["rows"]
    assert [r["model"] for r in rows] == ["tiny", str(root / "finetune")]
    assert read_json(root / "finetune" / "train.json")["blocks"] == [0, 1]
    md = (root / "report.md").read_text()
    assert f"{rows[0]['presence_accuracy']:.3f} | {rows[0]['absence_accuracy']:.3f}" in md
    assert "Not run: `probes/probes.json` is missing" in md
    mtime = (root / "evaluate" / "evaluation.json").stat().st_mtime_ns
    assert main(["run", "--config", str(cfg_path), "--out", str(root)]) == 0
    assert (root / "evaluate" / "evaluation.json").stat().st_mtime_ns == mtime


def test_cli_block_out_of_range_keeps_finished_stages(tmp_path, capsys):
    from negscope.cli import main

    cfg_path = tiny_config(tmp_path / "tiny.toml", ["similarity", "finetune"], blocks="0,9")
    root = tmp_path / "r"
    (root / "similarity").mkdir(parents=True)
    write_json(root / "similarity" / "similarity.json", {"kept": True})
    write_json(root / "similarity" / MARKER, {"config_hash": stage_hashes(load_config(cfg_path))["similarity"]})
    assert main(["run", "--config", str(cfg_path), "--out", str(root)]) == 2
    assert "text block 9 is out of range for tiny: it has blocks 0 to 3" in capsys.readouterr().err
    assert read_json(root / "similarity" / "similarity.json") == {"kept": True}
    assert not (root / "finetune" / MARKER).exists()


@pytest.mark.parametrize(
    "section, target",
    [("probes", "negscope.experiments.probe:ProbeConfig"), ("attribution", "negscope.experiments.attribute:run_attribution"),
     ("patching", "negscope.experiments.patch:run_patching"), ("selection", "negscope.experiments.select:run_selection")],
)
def test_stage_sections_match_their_runners(section, target):
    import importlib
    import inspect

    module, name = target.split(":")
    params = set(inspect.signature(getattr(importlib.import_module(module), name)).parameters)
    assert set(dataclasses.asdict(getattr(RunConfig(), section))) <= params


@pytest.mark.slow
def test_every_stage_on_the_tiny_model(tmp_path):
    cfg_path = tiny_config(tmp_path / "tiny.toml", [*ANALYSIS, "study"], blocks="auto")
    proc = _negscope(["run", "--config", str(cfg_path), "--out", str(tmp_path / "r")])
    assert proc.wait() == 0, proc.stderr.read()
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Not run" not in md and "| selected (" in md
    selected = read_json(tmp_path / "r" / "selection" / "selection.json")["blocks"]
    assert read_json(tmp_path / "r" / "finetune" / "train.json")["blocks"] == selected


def _negscope(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "negscope", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_killed_mid_finetune_then_rerun_matches_uninterrupted(tmp_path):
    cfg_path = tiny_config(tmp_path / "tiny.toml", ANALYSIS, blocks="auto", steps=80)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert _negscope(["run", "--config", str(cfg_path), "--out", str(whole)]).wait() == 0
    proc = _negscope(["run", "--config", str(cfg_path), "--out", str(cut)])
    checkpoint = cut / "finetune" / "checkpoint" / "trainer_state.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not (cut / "finetune" / MARKER).exists(), "the kill came too late to test resuming"
    rerun = _negscope(["run", "--config", str(cfg_path), "--out", str(cut)])
    assert rerun.wait() == 0, rerun.stderr.read()
    def scores(root):
        return [{k: v for k, v in r.items() if k != "model"} for r in read_json(root / "evaluate" / "evaluation.json")["rows"]]

    assert scores(cut) == scores(whole)

    def curve(root):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in read_json(root / "finetune" / "train.json")["history"]]

    assert curve(cut) == curve(whole)
    assert (cut / "finetune" / "model.safetensors").read_bytes() == (whole / "finetune" / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_quick_run_on_the_world_model_within_five_minutes(tmp_path):
    start = time.time()
    proc = _negscope(["run", "--quick", "--out", str(tmp_path / "q")])
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    assert time.time() - start < 300
    report = (tmp_path / "q" / "report.md").read_text()
    assert "Not run" not in report.split("## Layer study")[0]
    assert json.loads((tmp_path / "q" / "config.json").read_text())["finetune"]["steps"] <= 60
