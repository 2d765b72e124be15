import json

from negscope.cli import main
from negscope.models import load_bundle
from negscope.results import TrainResult


def test_finetune_cli_auto_blocks_and_resume(tmp_path, capsys, write_selection):
    sel = write_selection(tmp_path, [3, 1])
    args = ["finetune", "--model", "tiny", "--data", "world[:16]", "--blocks", "auto", "--selection", str(sel),
            "--out", str(tmp_path / "ft"), "--steps", "2", "--batch-size", "4", "--warmup", "1", "--margin", "0.5"]
    assert main(args) == 0
    train = json.loads((tmp_path / "ft" / "train.json").read_text())
    assert train["blocks"] == [1, 3] and train["blocks_spec"] == "auto" and train["config"]["margin"] == 0.5 and len(train["history"]) == 2
    assert train["model"] == "tiny" and train["data"].startswith("world[16 scenes, no held-out combination, two kinds or more]@0")
    load_bundle(str(tmp_path / "ft"))
    assert [v["step"] for v in train["validation"]] == [0, 2]  # 16 images: 3 held out to choose the checkpoint
    assert {p.name for p in (tmp_path / "ft").glob("*.png")} == {"training_curve.png", "validation_curve.png"}
    assert TrainResult.load(tmp_path / "ft").to_dict() == train
    assert main(args) == 2  # a checkpoint is there: refuse to overwrite it silently
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0  # already at the last step: nothing left to do


def test_finetune_cli_names_a_bad_block(tmp_path, capsys):
    assert main(["finetune", "--model", "tiny", "--blocks", "0,4", "--out", str(tmp_path)]) == 2
    assert "blocks 0 to 3" in capsys.readouterr().err
