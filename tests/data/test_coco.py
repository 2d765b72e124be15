import json

import numpy as np
import pytest

from negscope.data import DataError, export_coco, load_coco, load_dataset, world_dataset


def test_world_exports_and_loads_back(tmp_path):
    ds = world_dataset(6)
    export_coco(ds, tmp_path / "coco")
    back = load_coco(tmp_path / "coco")
    assert [r.image_id for r in back] == [r.image_id for r in ds]
    for a, b in zip(ds, back):
        assert a.captions == b.captions
        assert [(o.name, o.box) for o in a.objects] == [(o.name, o.box) for o in b.objects]
        assert np.array_equal(a.pixels, b.load_pixels())  # PNG: lossless
    assert back.categories == ds.categories


def test_missing_annotation_file_is_named(tmp_path):
    export_coco(world_dataset(2), tmp_path / "c")
    (tmp_path / "c" / "annotations" / "instances_val2017.json").unlink()
    with pytest.raises(DataError, match="instances_"):
        load_coco(tmp_path / "c")


def test_bad_images_skipped_and_counted_or_fatal_when_strict(tmp_path):
    export_coco(world_dataset(4), tmp_path / "c")
    images = sorted((tmp_path / "c" / "val2017").glob("*.png"))
    images[0].unlink()
    images[1].write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning, match="skipped 2 bad image"):
        ds = load_coco(tmp_path / "c")
    assert len(ds) == 2 and len(ds.skipped) == 2
    assert "missing" in ds.skipped[0] and "unreadable" in ds.skipped[1]
    with pytest.raises(DataError, match=str(images[0].name)):
        load_coco(tmp_path / "c", strict=True)


def test_missing_image_on_read_is_named(tmp_path):
    export_coco(world_dataset(2), tmp_path / "c")
    rec = load_coco(tmp_path / "c")[0]
    rec.path.unlink()
    with pytest.raises(DataError, match=rec.path.name):
        rec.load_pixels()


def test_corrupt_annotation_json(tmp_path):
    export_coco(world_dataset(2), tmp_path / "c")
    (tmp_path / "c" / "annotations" / "captions_val2017.json").write_text("{oops")
    with pytest.raises(DataError, match="not valid JSON"):
        load_coco(tmp_path / "c")


def test_load_dataset_specs(tmp_path):
    assert len(load_dataset("world[:5]")) == 5
    assert len(load_dataset("world", limit=3)) == 3
    with pytest.raises(DataError, match="neither"):
        load_dataset(str(tmp_path / "nowhere"))
    export_coco(world_dataset(3), tmp_path / "c")
    assert json.loads((tmp_path / "c" / "annotations" / "captions_val2017.json").read_text())["images"]
    assert len(load_dataset(str(tmp_path / "c"), limit=2)) == 2


def test_empty_caption_in_annotations_is_named(tmp_path):
    export_coco(world_dataset(2), tmp_path / "c")
    path = tmp_path / "c" / "annotations" / "captions_val2017.json"
    data = json.loads(path.read_text())
    data["annotations"][3]["caption"] = "  "
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"caption annotation #3 \(id 4\) for image 0 .* is empty"):
        load_coco(tmp_path / "c")


def _standard_coco(root, splits=("train2017", "val2017"), n=3):
    """The standard COCO layout: annotations/<kind>_<split>.json and one image folder per split."""
    for i, split in enumerate(splits):
        export_coco(world_dataset(n, seed=10 + i), root, split=split)
    return root


def test_the_split_is_val2017_by_default_chosen_by_name_or_by_its_image_folder(tmp_path):
    root = _standard_coco(tmp_path / "coco")
    val, train = world_dataset(3, seed=11), world_dataset(3, seed=10)
    assert [r.captions for r in load_dataset(str(root))] == [r.captions for r in val]
    assert [r.captions for r in load_dataset(str(root), split="train2017")] == [r.captions for r in train]
    assert [r.captions for r in load_dataset(str(root / "train2017"))] == [r.captions for r in train]
    assert [r.captions for r in load_dataset(str(root), prefer="train2017")] == [r.captions for r in train]
    with pytest.raises(DataError, match="no split 'test2017'.*train2017, val2017"):
        load_dataset(str(root), split="test2017")
    with pytest.raises(DataError, match="--split val2017"):
        load_dataset(str(root / "train2017"), split="val2017")


def test_several_splits_without_val2017_ask_for_a_split(tmp_path):
    root = _standard_coco(tmp_path / "coco", splits=("a", "b"))
    with pytest.raises(DataError, match="holds the splits a, b; choose one with --split"):
        load_dataset(str(root))
    assert len(load_dataset(str(root), split="b")) == 3


def test_a_partly_truncated_jpeg_is_a_counted_skip(tmp_path):
    export_coco(world_dataset(3), tmp_path / "c", suffix=".jpg")
    path = sorted((tmp_path / "c" / "val2017").glob("*.jpg"))[1]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.warns(UserWarning, match="skipped 1 bad image"):
        ds = load_coco(tmp_path / "c")
    assert [r.image_id for r in ds] == [0, 2] and "unreadable" in ds.skipped[0] and path.name in ds.skipped[0]
    with pytest.raises(DataError, match=f"{path.name} is unreadable.*drop --strict"):
        load_coco(tmp_path / "c", strict=True)


def _edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_an_unknown_category_id_names_the_annotation_and_the_fix(tmp_path):
    export_coco(world_dataset(2), tmp_path / "c")
    path = tmp_path / "c" / "annotations" / "instances_val2017.json"
    _edit(path, lambda d: d["annotations"][1].update(category_id=777))
    with pytest.raises(DataError, match=r"instance annotation #1 \(id 2\) .* category_id 777, which 'categories' does "
                                        "not list; add the category or fix the id"):
        load_coco(tmp_path / "c")


@pytest.mark.parametrize("name", ["../../../../../../etc/passwd", "/etc/passwd", "../val2017/../../outside.png"])
def test_image_paths_cannot_leave_the_image_folder(tmp_path, name):
    export_coco(world_dataset(3), tmp_path / "c")
    (tmp_path / "outside.png").write_bytes((tmp_path / "c" / "val2017" / "000000000000.png").read_bytes())
    _edit(tmp_path / "c" / "annotations" / "captions_val2017.json", lambda d: d["images"][0].update(file_name=name))
    with pytest.warns(UserWarning, match="skipped 1 bad image"):
        ds = load_coco(tmp_path / "c")
    assert [r.image_id for r in ds] == [1, 2] and "outside the image folder" in ds.skipped[0]
    with pytest.raises(DataError, match="outside the image folder"):
        load_coco(tmp_path / "c", strict=True)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("image_id", "0", r"caption annotation #0 \(id 1\) .* has a bad \('0'\) 'image_id'"),
    ("caption", 5, r"caption annotation #0 \(id 1\) .* has a bad \(5\) 'caption'"),
    ("image_id", None, r"caption annotation #0 \(id 1\) .* has no 'image_id'"),
])
def test_a_malformed_caption_entry_is_named(tmp_path, key, value, match):
    export_coco(world_dataset(2), tmp_path / "c")
    _edit(tmp_path / "c" / "annotations" / "captions_val2017.json", lambda d: d["annotations"][0].update({key: value}))
    with pytest.raises(DataError, match=match):
        load_coco(tmp_path / "c")


def test_world_n_is_world_of_n_scenes():
    assert [r.captions for r in load_dataset("world:7")] == [r.captions for r in load_dataset("world[:7]")]
    assert len(load_dataset("world:7", limit=3)) == 3
    with pytest.raises(DataError, match="world:N with N > 0"):
        load_dataset("world:0")

