"""Through the CLI: training never reads an evaluated image, and each result names the split it read."""

import json

from negscope.cli import main
from negscope.data import export_coco, world_dataset

FAST = ["--steps", "2", "--batch-size", "4", "--warmup", "1", "--blocks", "0"]


def test_train_data_sharing_evaluated_images_exits_2_with_one_line(tmp_path, capsys):
    evaluated = export_coco(world_dataset(12), tmp_path / "eval")
    copy = export_coco(world_dataset(12), tmp_path / "copy")
    args = ["finetune", "--model", "tiny", "--data", str(evaluated), "--train-data", str(copy), *FAST]
    assert main([*args, "--out", str(tmp_path / "ft")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shares 6 image(s)" in err and "drop --train-data" in err
    assert not (tmp_path / "ft" / "train.json").exists()
    assert main(["run", "--model", "tiny", "--data", str(evaluated), "--set", f"finetune.train_data={copy}",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shares 6 image(s)" in err
    assert not (tmp_path / "run" / "negations").exists()  # refused before the first stage ran


def test_a_table_trains_on_its_training_split_with_validation_and_evaluates_the_rest(tmp_path, scene_table):
    table = str(scene_table(tmp_path, 40))
    assert main(["finetune", "--model", "tiny", "--data", table, *FAST, "--validation", "2", "--validate-every", "1",
                 "--out", str(tmp_path / "ft")]) == 0
    train = json.loads((tmp_path / "ft" / "train.json").read_text())
    assert "training split" in train["data"] and [v["step"] for v in train["validation"]] == [0, 1, 2]
    assert main(["evaluate", "--model", "tiny", "--data", table, "--out", str(tmp_path / "ev")]) == 0
    evaluation = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert "evaluation split" in evaluation["data"] and evaluation["rows"][0]["images"] == 20
