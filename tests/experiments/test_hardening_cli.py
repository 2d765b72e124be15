"""Bad input through the CLI: a clear one-line error or a counted skip, and no result already written lost."""

import json
import subprocess
import sys

from negscope.cli import main
from negscope.data import export_coco, world_dataset
from negscope.io import LOCK


def _coco(tmp_path, n=4):
    return export_coco(world_dataset(n), tmp_path / "coco")


def test_corrupt_image_skipped_and_counted_or_fatal_with_strict(tmp_path, capsys):
    folder = _coco(tmp_path)
    sorted((folder / "val2017").glob("*.png"))[1].write_bytes(b"\x00broken")
    assert main(["similarity", "--model", "tiny", "--data", str(folder), "--out", str(tmp_path / "a")]) == 0
    data = json.loads((tmp_path / "a" / "similarity.json").read_text())
    assert data["images"] == 3 and data["skipped_images"] == 1
    assert main(["similarity", "--model", "tiny", "--data", str(folder), "--out", str(tmp_path / "a"), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "000000000001.png" in err and "--strict" in err
    assert json.loads((tmp_path / "a" / "similarity.json").read_text()) == data


def test_empty_caption_is_a_one_line_error(tmp_path, capsys):
    folder = _coco(tmp_path, 2)
    path = folder / "annotations" / "captions_val2017.json"
    ann = json.loads(path.read_text())
    ann["annotations"][0]["caption"] = ""
    path.write_text(json.dumps(ann))
    assert main(["evaluate", "--model", "tiny", "--data", str(folder), "--out", str(tmp_path / "e")]) == 2
    assert "is empty" in capsys.readouterr().err


def test_overlong_caption_truncated_and_counted(tmp_path):
    folder = _coco(tmp_path, 2)
    path = folder / "annotations" / "captions_val2017.json"
    ann = json.loads(path.read_text())
    ann["annotations"][0]["caption"] = "a red circle " * 40
    path.write_text(json.dumps(ann))
    assert main(["similarity", "--model", "tiny", "--data", str(folder), "--out", str(tmp_path / "s")]) == 0
    row = json.loads((tmp_path / "s" / "similarity.json").read_text())["rows"][0]
    assert row["truncated_captions"] >= 1


def test_block_out_of_range_names_the_range(tmp_path, capsys):
    code = main(["finetune", "--model", "tiny", "--blocks", "0,9", "--steps", "1", "--out", str(tmp_path / "f")])
    assert code == 2
    assert "0 to 3" in capsys.readouterr().err


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"negscope {command}: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_model_folder_without_tokenizer_is_refused(tiny, tmp_path, capsys):
    folder = tiny.save(tmp_path / "m")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    assert main(["similarity", "--model", str(folder), "--data", "world:4", "--out", str(tmp_path / "s")]) == 2
    assert "has no tokenizer" in _one_line_error(capsys, "similarity")
    assert not (tmp_path / "s").exists()


def test_a_second_run_on_a_held_out_folder_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / LOCK).write_text(str(holder.pid))
        assert main(["similarity", "--model", "tiny", "--data", "world:4", "--out", str(out)]) == 2
        assert f"in use by negscope process {holder.pid}" in _one_line_error(capsys, "similarity")
        assert sorted(p.name for p in out.iterdir()) == [LOCK]
    finally:
        holder.kill()
        holder.wait()


def test_a_bad_out_is_named_before_any_work(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        # the data does not exist either: the output folder is checked first, before any data or model is read
        assert main(["similarity", "--model", "tiny", "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
        assert "output folder" in _one_line_error(capsys, "similarity")


def test_selection_with_other_blocks_is_an_error(tmp_path, capsys, write_selection):
    sel = write_selection(tmp_path / "sel", [1])
    code = main(["finetune", "--model", "tiny", "--data", "world:8", "--blocks", "front", "--selection", str(sel),
                 "--steps", "1", "--out", str(tmp_path / "f")])
    assert code == 2
    assert "only --blocks auto reads a selection" in _one_line_error(capsys, "finetune")
    assert not (tmp_path / "f").exists()


def test_seed_pairs_with_all_tokens_fail_before_loading_anything(tmp_path, capsys):
    code = main(["patch", "--model", str(tmp_path / "no-model"), "--data", "world:4", "--pairs", "seed", "--all-tokens",
                 "--out", str(tmp_path / "p")])
    assert code == 2
    assert "seed pairs never are" in _one_line_error(capsys, "patch")
