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

from negscope.data import export_coco, world_dataset
from negscope.experiments.common import MARKER
from negscope.experiments.config import STAGES, RunConfig, load_config, quick, with_overrides
from negscope.experiments.run import SEGMENTS, run, stage_keys
from negscope.experiments.stages import STAGE_LIST, Stage
from negscope.io import read_json, write_json
from negscope.results import Result

TINY_TOML = """
name = "tiny"
model = "tiny"
data = "world[:16]"
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
[erasure]
limit = 8
n_boot = 20
[finetune]
blocks = "{blocks}"
pool = 16
steps = {steps}
batch_size = 4
warmup = 1
save_every = 2
[evaluate]
limit = 8
[recipes]
arms = ["default", "forms=without"]
steps = 2
limit = 8
seeds = 1
[study]
steps = 2
limit = 8
seeds = 2
"""
ANALYSIS = ["negations", "similarity", "probes", "attribution", "patching", "erasure", "selection", "finetune", "evaluate"]


def tiny_config(path: Path, stages=("similarity", "finetune", "evaluate"), blocks="front", steps=4) -> Path:
    path.write_text(TINY_TOML.format(stages=json.dumps(list(stages)), blocks=blocks, steps=steps))
    return path


@dataclasses.dataclass
class Fake(Result):
    """A cheap stand-in result."""

    filename = "result.json"
    value: float


def _fake_type(name: str) -> type[Fake]:
    return type(f"Fake_{name}", (Fake,), {"kind": name})


@pytest.fixture
def fake_stages():
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
            result = _fake_type(name)(float(np.random.rand()) + prior)
            result.save(folder)
            return result

        return stage

    stages = (Stage(_fake_type("similarity"), (), make("similarity")), Stage(_fake_type("probes"), (), make("probes")),
              Stage(_fake_type("selection"), ("probes",), make("selection")))
    return calls, fail, stages


CFG = RunConfig(stages=["similarity", "probes", "selection"])


def results(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.json"))
            if p.name not in (MARKER, SEGMENTS, "config.json")}


def test_rerun_skips_complete_stages(fake_stages, tmp_path):
    calls, _, stages = fake_stages
    status = run(CFG, tmp_path, report=False, stages=stages)
    assert status == {"similarity": "done", "probes": "done", "selection": "done"}
    marker = read_json(tmp_path / "probes" / MARKER)
    assert marker["key"] == stage_keys(CFG, stages)["probes"] and marker["inputs"]["section"]["limit"] == CFG.probes.limit
    assert read_json(tmp_path / "config.json")["stages"] == CFG.stages
    assert run(CFG, tmp_path, report=False, stages=stages) == {"similarity": "skipped", "probes": "skipped", "selection": "skipped"}
    assert calls == ["similarity", "probes", "selection"]


def test_changed_section_redoes_the_stage_and_its_dependents(fake_stages, tmp_path):
    calls, _, stages = fake_stages
    run(CFG, tmp_path, report=False, stages=stages)
    (tmp_path / "probes" / "stray.txt").write_text("from the old config")
    calls.clear()
    status = run(with_overrides(CFG, {"probes": {"folds": 2}}), tmp_path, report=False, stages=stages)
    assert status == {"similarity": "skipped", "probes": "done", "selection": "done"}
    assert calls == ["probes", "selection"]
    assert not (tmp_path / "probes" / "stray.txt").exists()


def test_interrupted_run_resumes_to_identical_results(fake_stages, tmp_path):
    calls, fail, stages = fake_stages
    run(CFG, tmp_path / "whole", report=False, stages=stages)
    fail["probes"] = True
    with pytest.raises(KeyboardInterrupt):
        run(CFG, tmp_path / "cut", report=False, stages=stages)
    assert (tmp_path / "cut" / "similarity" / MARKER).is_file()
    assert (tmp_path / "cut" / "probes" / "part1.json").is_file() and not (tmp_path / "cut" / "probes" / MARKER).exists()
    calls.clear()
    status = run(CFG, tmp_path / "cut", report=False, stages=stages)
    assert status == {"similarity": "skipped", "probes": "done", "selection": "done"}
    assert calls == ["probes", "selection"]
    assert results(tmp_path / "cut") == results(tmp_path / "whole")


def test_a_resumed_stage_counts_the_seconds_of_every_attempt(tmp_path, capsys):
    attempts = []

    def slow(cfg, root):
        write_json(root / "probes" / "part1.json", {"attempt": len(attempts)})
        time.sleep(0.3)
        attempts.append(1)
        if len(attempts) == 1:
            raise KeyboardInterrupt
        return _fake_type("probes")(1.0).save(root / "probes")

    stages = (Stage(_fake_type("similarity"), (), lambda cfg, root: _fake_type("similarity")(0.0).save(root / "similarity")),
              Stage(_fake_type("probes"), (), slow))
    cfg = RunConfig(stages=["similarity", "probes"])
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path, report=False, stages=stages)
    run(cfg, tmp_path, report=False, stages=stages)
    marker = read_json(tmp_path / "probes" / MARKER)
    assert marker["segments"] == 2 and marker["seconds"] >= 0.6
    out = capsys.readouterr().out
    assert "stage 1/2 similarity" in out and "stage 2/2 probes" in out and "stage 1/1 probes" in out
    assert "so far, about" in out  # the second stage of the first attempt has an estimate


def test_an_attempt_killed_unrecorded_ends_at_its_last_file(tmp_path):
    def stage(cfg, root):
        return _fake_type("probes")(1.0).save(root / "probes")

    stages = (Stage(_fake_type("probes"), (), stage),)
    cfg = RunConfig(stages=["probes"])
    folder = tmp_path / "probes"
    folder.mkdir()
    (folder / ".started").write_text(stage_keys(cfg, stages)["probes"])
    begun = time.time() - 100
    write_json(folder / SEGMENTS, [[begun, None]])
    os.utime(folder / SEGMENTS, (begun, begun))
    (folder / "shard.npy").write_bytes(b"x")
    os.utime(folder / "shard.npy", (begun + 40, begun + 40))
    run(cfg, tmp_path, report=False, stages=stages)
    marker = read_json(folder / MARKER)
    assert marker["segments"] == 2 and 40 <= marker["seconds"] < 45


def test_unconfigured_stages_are_left_alone(fake_stages, tmp_path):
    status = run(RunConfig(stages=["probes"]), tmp_path, report=False, stages=fake_stages[2])
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
    assert "Not run: `probes` holds no result" in md
    (tower,) = (root / "cache").iterdir()  # the fine-tuned model keeps the frozen image tower: every stage shares it
    keys = [k for f in tower.glob("*.json") for k in read_json(f)]
    assert len(keys) == len(set(keys))
    mtime = (root / "evaluate" / "evaluation.json").stat().st_mtime_ns
    assert main(["run", "--config", str(cfg_path), "--out", str(root)]) == 0
    assert (root / "evaluate" / "evaluation.json").stat().st_mtime_ns == mtime


def test_cli_block_out_of_range_keeps_finished_stages(tmp_path, capsys):
    from negscope.cli import main

    cfg_path = tiny_config(tmp_path / "tiny.toml", ["similarity", "finetune"], blocks="0,9")
    root = tmp_path / "r"
    (root / "similarity").mkdir(parents=True)
    write_json(root / "similarity" / "similarity.json", {"kept": True})
    write_json(root / "similarity" / MARKER, {"key": stage_keys(load_config(cfg_path))["similarity"]})
    assert main(["run", "--config", str(cfg_path), "--out", str(root)]) == 2
    assert "text block 9 is out of range for tiny: it has blocks 0 to 3" in capsys.readouterr().err
    assert read_json(root / "similarity" / "similarity.json") == {"kept": True}
    assert not (root / "finetune" / MARKER).exists()


def test_the_registry_is_the_config_sections_in_order():
    assert [s.name for s in STAGE_LIST] == list(STAGES)
    assert all(s.result.kind == s.name and set(s.needs) <= set(STAGES[: STAGES.index(s.name)]) for s in STAGE_LIST)


def test_new_weights_in_the_same_folder_redo_every_stage(fake_stages, tmp_path, tiny):
    _, _, stages = fake_stages
    model = tiny.save(tmp_path / "model")
    cfg = dataclasses.replace(CFG, model=str(model))
    run(cfg, tmp_path / "r", report=False, stages=stages)
    assert set(run(cfg, tmp_path / "r", report=False, stages=stages).values()) == {"skipped"}
    tiny.save(model)  # new weights saved over the old ones: same path, same settings
    assert set(run(cfg, tmp_path / "r", report=False, stages=stages).values()) == {"done"}


def test_changed_data_folder_redoes_every_stage(fake_stages, tmp_path):
    _, _, stages = fake_stages
    data = export_coco(world_dataset(2), tmp_path / "coco")
    cfg = dataclasses.replace(CFG, data=str(data))
    run(cfg, tmp_path / "r", report=False, stages=stages)
    assert set(run(cfg, tmp_path / "r", report=False, stages=stages).values()) == {"skipped"}
    captions = next((data / "annotations").glob("captions_*.json"))
    captions.write_text(captions.read_text().replace("circle", "disc"))
    assert set(run(cfg, tmp_path / "r", report=False, stages=stages).values()) == {"done"}


def test_keys_depend_on_their_inputs_only():
    base = stage_keys(RunConfig())
    assert stage_keys(RunConfig()) == base
    other = stage_keys(with_overrides(RunConfig(), {"probes": {"folds": 3}}))
    assert other["probes"] != base["probes"] and other["similarity"] == base["similarity"]
    assert other["selection"] != base["selection"] and other["study"] != base["study"]  # downstream of probes
    assert stage_keys(dataclasses.replace(RunConfig(), seed=1))["similarity"] != base["similarity"]
    assert stage_keys(dataclasses.replace(RunConfig(), name="x", stages=["probes"])) == base
    assert stage_keys(dataclasses.replace(RunConfig(), cache="/elsewhere")) == base
    steps = stage_keys(with_overrides(RunConfig(), {"finetune": {"steps": 7}}))
    assert steps["probes"] == base["probes"] and steps["finetune"] != base["finetune"] and steps["study"] != base["study"]


@pytest.mark.slow
def test_every_stage_on_the_tiny_model(tmp_path):
    cfg_path = tiny_config(tmp_path / "tiny.toml", [*ANALYSIS, "recipes", "study"], blocks="auto")
    proc = _negscope(["run", "--config", str(cfg_path), "--out", str(tmp_path / "r")])
    assert proc.wait() == 0, proc.stderr.read()
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Not run" not in md and "| selected (" in md and "| forms=without (without) |" in md
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


def test_the_coco_config_runs_on_the_layout_it_documents(tmp_path, tiny, monkeypatch):
    """configs/coco-vit-b32.toml on a small standard COCO layout (data/coco/annotations, train2017/, val2017/), with
    the model replaced by a tiny one and the sizes of --quick."""
    for seed, (split, n) in enumerate((("train2017", 40), ("val2017", 12))):  # 1 in 4 of train2017 is analysed
        export_coco(world_dataset(n, seed=20 + seed), tmp_path / "data" / "coco", split=split, suffix=".jpg")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "coco-vit-b32.toml")
    cfg = dataclasses.replace(quick(cfg), model=str(tiny.save(tmp_path / "tiny")), stages=[*ANALYSIS])
    cfg = with_overrides(cfg, {"finetune": {"steps": 4, "validation": 0}, "probes": {"folds": 2}})
    status = run(cfg, tmp_path / "r", report=False)
    assert {s for name, s in status.items() if name in ANALYSIS} == {"done"}
    train = read_json(tmp_path / "r" / "finetune" / "train.json")
    assert train["data"].startswith("coco/train2017 (training split") and read_json(tmp_path / "r" / "similarity" / "similarity.json")["images"] == 12


def _cli_config(argv: list[str]) -> RunConfig:
    from negscope.cli import _run_config, build_parser

    return _run_config(build_parser().parse_args(["run", *argv]))


def test_run_flags_and_set_override_the_toml_and_quick(tmp_path):
    cfg = _cli_config(["--config", str(tiny_config(tmp_path / "t.toml")), "--quick", "--model", "m", "--data", "d",
                       "--set", "finetune.steps=60", "--set", "probes.limit=100", "--set", "seed=1",
                       "--set", 'finetune.forms=["no", "without"]', "--set", "finetune.lr=1e-4"])
    assert (cfg.model, cfg.data, cfg.seed) == ("m", "d", 1)
    assert (cfg.finetune.steps, cfg.finetune.lr, cfg.finetune.forms) == (60, 1e-4, ["no", "without"])  # over --quick's 40
    assert cfg.probes.limit == 100 and cfg.evaluate.limit == 8 and cfg.finetune.pool == 16  # the TOML's, shrunk by --quick
    assert _cli_config([]) == RunConfig()  # flags not given leave the defaults
    assert _cli_config(["--config", str(tmp_path / "t.toml")]).model == "tiny"


@pytest.mark.parametrize(("override", "message"), [
    ("finetune.stps=60", "unknown key 'stps' in [finetune]; did you mean 'steps'?"),
    ("finetun.steps=60", "unknown key 'finetun' in the top level; did you mean 'finetune'?"),
    ("finetune.steps=0", "finetune.steps is 0; it must be at least 1"),
    ("selection.coverage=1.5", "selection.coverage is 1.5; it must be between 0 and 1"),
    ("seed=one", "seed must be int, not str ('one')"),
    ("probes.solver=jax", "probes.solver is 'jax'"),
    ("finetune.steps", "is not key=value"),
])
def test_a_bad_set_exits_2_with_one_line(tmp_path, capsys, override, message):
    from negscope.cli import main

    assert main(["run", "--set", override, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "config.json").exists()


def test_quick_run_with_model_and_data_flags_and_no_toml(tmp_path, tiny):
    from threadpoolctl import threadpool_limits

    from negscope.cli import main

    model, data = tiny.save(tmp_path / "model"), export_coco(world_dataset(6), tmp_path / "coco")
    with threadpool_limits(1, user_api="openmp"):
        assert main(["run", "--quick", "--model", str(model), "--data", str(data), "--set", 'stages=["negations", "similarity"]',
                     "--out", str(tmp_path / "r")]) == 0
    written = read_json(tmp_path / "r" / "config.json")
    assert (written["model"], written["data"], written["similarity"]["limit"]) == (str(model), str(data), 60)
    assert read_json(tmp_path / "r" / "similarity" / "similarity.json")["rows"][0]["model"] == str(model)
    assert (tmp_path / "r" / "report.md").is_file()


def test_the_eta_scales_each_stage_by_its_configured_size():
    from negscope.experiments.run import time_left
    from negscope.progress import std_tqdm

    default, small = RunConfig(), quick(RunConfig())
    probes = next(s for s in STAGE_LIST if s.name == "probes")
    assert probes.expected(default) == probes.cost
    twice = {"probes": {"limit": 2 * default.probes.limit}}
    assert probes.expected(with_overrides(default, twice)) == pytest.approx(2 * probes.cost)
    assert probes.expected(with_overrides(default, {"untrained_copies": 1})) == pytest.approx(probes.cost / 2)
    assert all(s.expected(small) <= s.expected(default) for s in STAGE_LIST)
    quick_todo = [s for s in STAGE_LIST if s.name in small.stages]
    # the first stage took the seconds its cost says: the estimate is then the expected seconds of the stages left
    full_first, quick_first = STAGE_LIST[0].expected(default), quick_todo[0].expected(small)
    full_left = sum(s.expected(default) for s in STAGE_LIST[1:])
    quick_left = sum(s.expected(small) for s in quick_todo[1:])
    assert time_left(default, list(STAGE_LIST), 1, full_first) == (
        f"; {std_tqdm.format_interval(full_first)} so far, about {std_tqdm.format_interval(full_left)} left")
    assert time_left(small, quick_todo, 1, quick_first) == (
        f"; {std_tqdm.format_interval(quick_first)} so far, about {std_tqdm.format_interval(quick_left)} left")
    assert full_left > 1200 and quick_left < 600  # the full run: over 20 minutes left; --quick: a few minutes
