"""A study's runs side by side: worker processes and Ray give the serial rows, folders and resume behaviour."""

import importlib.util

import pytest

from negscope.experiments import parallel
from negscope.experiments.config import Common, FinetuneConfig, RecipesConfig
from negscope.experiments.recipes import run_recipes

TRAIN = FinetuneConfig(blocks="front", batch_size=8, warmup=1, save_every=2, pool=40, validation=0)
CFG = RecipesConfig(arms=["default", "lr=1e-2"], steps=5, limit=8, seeds=1)  # steps enough for a batch loader worker


def _markers(folder):
    return {p.parent.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.glob("**/set.json")}


def _recipes(tmp_path, name, **common):
    return run_recipes(Common(model="tiny", data="world[:8]", threads=1, **common), TRAIN, CFG, tmp_path / name,
                       progress=False)


def test_two_workers_give_the_serial_rows_and_a_rerun_trains_nothing(tmp_path, capsys, monkeypatch):
    serial = _recipes(tmp_path, "serial", workers=1)
    side_by_side = _recipes(tmp_path, "workers", workers=2)
    assert "2 runs on 2 worker processes (fork), 1 thread(s) each" in capsys.readouterr().out
    assert side_by_side.rows == serial.rows and side_by_side.baseline == serial.baseline
    assert sorted(_markers(tmp_path / "workers")) == sorted(_markers(tmp_path / "serial"))
    before = _markers(tmp_path / "workers")
    assert _recipes(tmp_path, "workers", workers=2).rows == serial.rows
    assert _markers(tmp_path / "workers") == before
    monkeypatch.setattr(parallel, "_start_method", lambda threads: "spawn")  # workers that build everything anew
    assert _recipes(tmp_path, "spawned", workers=2).rows == serial.rows
    assert "(spawn)" in capsys.readouterr().out


def test_workers_are_forked_only_where_that_cannot_hang(monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert parallel._start_method(1) == "fork"
    assert parallel._start_method(2) == "spawn"  # a forked child's first OpenMP region would wait on lost threads
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert parallel._start_method(1) == "spawn"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("sys.platform", "darwin")
    assert parallel._start_method(1) == "spawn"


def test_workers_follow_the_cores_and_never_outnumber_the_runs(monkeypatch):
    monkeypatch.setattr(parallel, "_cores", lambda: 16)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert (parallel.plan_workers(Common(), 40), parallel.run_threads(Common())) == (16, 1)
    assert parallel.plan_workers(Common(), 3) == 3
    assert (parallel.plan_workers(Common(threads=4), 40), parallel.run_threads(Common(threads=4))) == (4, 4)
    assert parallel.plan_workers(Common(workers=2, threads=3), 40) == 2
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 1)
    assert (parallel.plan_workers(Common(), 40), parallel.run_threads(Common())) == (1, 16)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 8)  # Ray: a run per GPU, 2 CPUs each
    assert (parallel.plan_workers(Common(), 40), parallel.run_threads(Common())) == (1, 2)


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed here (run .ci/ray)")
def test_a_local_ray_instance_gives_the_serial_rows(tmp_path):
    import ray

    serial = _recipes(tmp_path, "serial", workers=1)
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        assert _recipes(tmp_path, "ray", engine="ray").rows == serial.rows
    finally:
        ray.shutdown()
