"""The roles' splits: evaluation, analysis and training never share an image, for every kind of source."""


import pytest
from PIL import Image

from negscope.data import ROLES, DataError, export_coco, load_dataset, shared_images, world_dataset
from negscope.data.world import scene


def _ids(ds) -> set[int]:
    return {r.image_id for r in ds}


def _keys(ds) -> set[str]:
    return {r.key() for r in ds}


def _roles(spec: str, **kw) -> dict:
    return {role: load_dataset(spec, role=role, **kw) for role in ROLES}


def test_world_roles_read_scenes_of_their_own_seed():
    parts = _roles("world:30")
    assert [len(parts[r]) for r in ROLES] == [30, 30, 30]
    assert load_dataset("world:30").describe() == "world[0:30]@1 (30 images)"  # no role: the held-out scenes, as ever
    assert _keys(parts["evaluation"]) == _keys(load_dataset("world:30"))
    for a, b in (("analysis", "evaluation"), ("training", "evaluation"), ("analysis", "training")):
        assert not _keys(parts[a]) & _keys(parts[b]) and shared_images(parts[a], parts[b]) == 0
    assert "analysis split: scenes of seed 2" in parts["analysis"].describe()
    assert parts["analysis"].describe().endswith("; 30 images)")


def test_one_split_coco_folder_is_dealt_by_image_id(tmp_path):
    folder = export_coco(world_dataset(12), tmp_path / "coco")
    parts = _roles(str(folder))
    assert {r: sorted(_ids(d)) for r, d in parts.items()} == {
        "evaluation": [2, 3, 6, 7, 10, 11], "analysis": [0, 4, 8], "training": [1, 5, 9]}
    assert shared_images(parts["analysis"], parts["evaluation"]) == 0
    assert shared_images(parts["training"], parts["evaluation"]) == 0
    assert "analysis split: the 1st of every 4 images in id order" in parts["analysis"].describe()
    assert sorted(_ids(load_dataset(str(folder), role="analysis", limit=2))) == [0, 4]  # the limit takes the part's first
    assert sorted(_ids(load_dataset(str(folder / "val2017"), role="evaluation"))) == [2, 3, 6, 7, 10, 11]


def test_coco_folder_with_train2017_evaluates_val2017_whole(tmp_path):
    for seed, split in ((20, "train2017"), (21, "val2017")):
        export_coco(world_dataset(8, seed=seed), tmp_path / "coco", split=split)
    parts = _roles(str(tmp_path / "coco"))
    assert parts["evaluation"].name == "coco/val2017" and len(parts["evaluation"]) == 8
    assert parts["analysis"].name == parts["training"].name == "coco/train2017"
    assert sorted(_ids(parts["analysis"])) == [0, 4] and sorted(_ids(parts["training"])) == [1, 2, 3, 5, 6, 7]
    assert shared_images(parts["analysis"], parts["evaluation"]) == 0
    assert "val2017 is evaluated" in parts["analysis"].split
    # evaluated on train2017 itself: then train2017 is the one source, dealt between all three
    on_train = _roles(str(tmp_path / "coco"), split="train2017")
    assert on_train["evaluation"].name == "coco/train2017" and sorted(_ids(on_train["evaluation"])) == [2, 3, 6, 7]


def test_table_is_dealt_by_image(tmp_path, scene_table):
    parts = _roles(str(scene_table(tmp_path, 8, captions=2)))
    paths = {r: {rec.path.name for rec in d} for r, d in parts.items()}
    assert paths == {"evaluation": {"2.png", "3.png", "6.png", "7.png"}, "analysis": {"0.png", "4.png"},
                     "training": {"1.png", "5.png"}}
    assert all(len(rec.given) == 2 for rec in parts["training"])  # an image's rows all go with it
    assert shared_images(parts["analysis"], parts["evaluation"]) == 0


def test_a_part_without_images_names_the_role(tmp_path, scene_table):
    with pytest.raises(DataError, match="in its training split"):
        load_dataset(str(scene_table(tmp_path, 1, captions=2)), role="training")
    with pytest.raises(ValueError, match="data role 'test' is unknown"):
        load_dataset("world:3", role="test")


def test_shared_images_finds_copies_by_content(tmp_path):
    a = export_coco(world_dataset(6), tmp_path / "a")
    export_coco(world_dataset(6), tmp_path / "b")  # the same images under other paths, one of them then changed
    Image.fromarray(scene(40).pixels).save(tmp_path / "b" / "val2017" / "000000000000.png")
    assert shared_images(load_dataset(str(a)), load_dataset(str(tmp_path / "b"))) == 5
    other = export_coco(world_dataset(6, seed=7), tmp_path / "c")
    assert shared_images(load_dataset(str(a)), load_dataset(str(other))) == 0
    assert shared_images(world_dataset(4), world_dataset(6)) == 4  # images in memory: by their pixels
