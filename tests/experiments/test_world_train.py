import json

import pytest

from negscope.experiments.world import run_world_training
from negscope.finetune.config import WorldTrainConfig
from negscope.models import load_bundle


@pytest.mark.slow
def test_small_world_model_learns(tmp_path):
    cfg = WorldTrainConfig(size="tiny", steps=300, batch_size=64, lr=2e-3, warmup=30,
                           pool=2000, eval_scenes=200)
    card = run_world_training(cfg, tmp_path / "m", progress=False)
    m = card["metrics"]
    # chance for image-to-text R@5 among 200 scenes is 5 captions x 5 ranks / 1000 captions, about 0.025
    assert m["i2t_r5"] > 0.15
    assert m["swap_accuracy"] > 0.6
    assert json.loads((tmp_path / "m" / "training.json").read_text())["metrics"] == m
    assert "swap accuracy" in (tmp_path / "m" / "MODEL_CARD.md").read_text()
    assert len(load_bundle(str(tmp_path / "m")).text_layers) == 4


def test_world_export_gives_the_same_numbers_as_the_world(tmp_path, capsys):
    from negscope.cli import main

    assert main(["world", "export", "--out", str(tmp_path / "coco"), "--n", "6"]) == 0
    assert "wrote 6 held-out world scenes" in capsys.readouterr().out
    rows = {}
    for name, data in (("world", "world:6"), ("export", str(tmp_path / "coco"))):
        assert main(["similarity", "--model", "tiny", "--data", data, "--out", str(tmp_path / name)]) == 0
        rows[name] = json.loads((tmp_path / name / "similarity.json").read_text())["rows"]
    assert rows["world"] == rows["export"] and rows["world"][0]["flips"] >= 0
