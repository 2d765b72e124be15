"""Bad input through the CLI: a clear one-line error or a counted skip, and no result already written lost."""

import json

from negscope.cli import main
from negscope.data import export_coco, world_dataset


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
