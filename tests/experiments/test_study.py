import json

from negscope.experiments.study import run_layer_study
from negscope.finetune.trainer import TrainConfig


def test_layer_study_on_tiny(tmp_path):
    combined = [0.6, 0.3, 0.1, 0.0]
    sel = tmp_path / "selection.json"
    sel.write_text(json.dumps({"blocks": [0, 1], "ranking": [], "evidence": {"combined": combined}, "rule": "front"}))
    cfg = TrainConfig(steps=2, batch_size=8, warmup=1, save_every=2)
    result = run_layer_study("tiny", "world", tmp_path / "study", eval_data="world[:8]", selection=sel, cfg=cfg, pool=40)
    sets = {r["set"]: r for r in result["rows"]}
    assert list(sets) == ["front", "middle", "back", "all", "selected"]
    assert sets["all"]["blocks"] == [0, 1, 2, 3] and sets["selected"]["blocks"] == [0, 1]
    assert abs(sets["front"]["analysis_coverage"] - sum(combined[k] for k in sets["front"]["blocks"])) < 1e-9
    for r in result["rows"]:
        assert abs(r["presence_accuracy"] - result["baseline"]["presence_accuracy"] - r["presence_accuracy_gain"]) < 1e-9
    assert -1 <= result["rank_correlation"]["spearman_rho"] <= 1
    assert (tmp_path / "study" / "study.png").is_file()
    assert "| front" in (tmp_path / "study" / "study.md").read_text()
    before = (tmp_path / "study" / "front" / "evaluation_row.json").stat().st_mtime
    run_layer_study("tiny", "world", tmp_path / "study", eval_data="world[:8]", selection=sel, cfg=cfg, pool=40)
    assert (tmp_path / "study" / "front" / "evaluation_row.json").stat().st_mtime == before
