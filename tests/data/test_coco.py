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
        assert np.abs(a.pixels.astype(int) - b.load_pixels().astype(int)).mean() < 8
    assert back.categories == sorted(ds.categories)


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
