import dataclasses

from negscope.experiments.config import Common, FinetuneConfig, StudyConfig
from negscope.experiments.study import run_layer_study
from negscope.results import StudyResult

COMMON = Common(model="tiny", data="world[:8]")
TRAIN = FinetuneConfig(batch_size=8, warmup=1, save_every=2, pool=40)


def _marker_times(folder):
    return {p.parent.name: p.stat().st_mtime_ns for p in folder.glob("*/set.json")}


def test_layer_study_on_tiny(tmp_path, write_selection):
    combined = [0.6, 0.3, 0.1, 0.0]
    sel = write_selection(tmp_path, [0, 1], combined)
    out = tmp_path / "study"
    result = run_layer_study(COMMON, TRAIN, StudyConfig(steps=2, limit=8), out, selection=sel, progress=False)
    assert StudyResult.load(out) == result
    sets = {r.set: r for r in result.rows}
    assert list(sets) == ["front", "middle", "back", "all", "selected"]
    assert sets["all"].blocks == [0, 1, 2, 3] and sets["selected"].blocks == [0, 1]
    assert abs(sets["front"].analysis_coverage - sum(combined[k] for k in sets["front"].blocks)) < 1e-9
    for r in result.rows:
        assert abs(r.values["presence_accuracy"] - result.baseline["presence_accuracy"] - r.gains["presence_accuracy"]) < 1e-9
    assert -1 <= result.rank_correlation.spearman_rho <= 1
    assert result.train_config["steps"] == 2 and result.images == 8
    assert (out / "study.png").is_file()
    assert "| front" in (out / "study.md").read_text()

    before = _marker_times(out)
    run_layer_study(COMMON, TRAIN, StudyConfig(steps=2, limit=8), out, selection=sel, progress=False)
    assert _marker_times(out) == before  # same inputs: every finished set is reused


def test_changed_settings_or_weights_redo_the_sets(tmp_path, tiny):
    model = tiny.save(tmp_path / "model")
    common = dataclasses.replace(COMMON, model=str(model))
    out = tmp_path / "study"
    run_layer_study(common, TRAIN, StudyConfig(steps=1, limit=8), out, progress=False)
    first = _marker_times(out)
    assert set(first) == {"baseline", "front", "middle", "back", "all"}

    changed = run_layer_study(common, TRAIN, StudyConfig(steps=2, limit=8), out, progress=False)
    second = _marker_times(out)
    assert changed.train_config["steps"] == 2
    assert second["baseline"] == first["baseline"]  # the model and the evaluation did not change
    assert all(second[s] != first[s] for s in ("front", "middle", "back", "all"))

    weights = model / "model.safetensors"
    tiny.save(model)  # the same folder, written anew: its files' times change, so their content may have
    assert weights.is_file()
    run_layer_study(common, TRAIN, StudyConfig(steps=2, limit=8), out, progress=False)
    third = _marker_times(out)
    assert all(third[s] != second[s] for s in third)
