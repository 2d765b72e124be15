import csv

import numpy as np
import pytest
from PIL import Image

from negscope.data import DataError, export_coco, load_dataset, world_dataset
from negscope.data.combinations import held_out_categories, names_held_out
from negscope.data.negation import determiner
from negscope.data.world import CATEGORIES, TRAIN_SEED, scene
from negscope.finetune.data import GivenSource, WorldSource, training_source


def _check_negations(source, n=5):
    rng = np.random.default_rng(0)
    for i in range(n):
        rec, ex = source.records[i], source.example(i, rng)
        assert ex.caption in rec.captions
        negated = [p for p in rec.present if determiner(ex.negated, p) == "no"]
        assert negated, ex.negated  # a present object is negated: the caption becomes false
        absent = ex.absence.rsplit(", with no ", 1)[1]
        assert absent not in rec.present  # an absent object is negated: the caption stays true


def test_world_source_uses_the_training_split():
    src = training_source("world[:6]", forms=["no"])
    assert isinstance(src, WorldSource) and len(src) == 6
    image = src.records[3].image_id
    assert np.array_equal(src.pixels(3), scene(image, TRAIN_SEED).pixels)
    assert not np.array_equal(src.pixels(3), scene(image).pixels)  # not the held-out split
    _check_negations(src)


def test_world_pool_never_holds_or_names_a_held_out_combination():
    held = held_out_categories()
    src = training_source("world[:40]", forms=["no", "not_true"])
    assert len(src) == 40 and src.records[-1].image_id > 39  # scenes with a held-out category were skipped, not lost
    assert all(set(r.present).isdisjoint(held) for r in src.records)
    assert set(src.categories) == set(CATEGORIES) - set(held)
    rng = np.random.default_rng(0)
    texts = [t for i in range(200) for t in vars(src.example(i % 40, rng)).values()]
    assert not [t for t in texts if names_held_out(t, held)]  # absent objects drawn are seen categories too
    assert not [t for t in src.texts() if names_held_out(t, held)]
    validation = src.hold_out(5)
    assert all(set(r.present).isdisjoint(held) for r in validation) and not set(validation.categories) & set(held)


def test_a_world_source_is_built_once_and_each_caller_holds_out_from_its_own_copy():
    first, second = training_source("world[:12]", forms=["no"]), training_source("world[:12]", forms=["not_true"])
    assert first is not second and first.records == second.records and first.records[0] is second.records[0]
    assert [f.name for f in first.forms] == ["no"] and [f.name for f in second.forms] == ["not_true"]
    first.hold_out(4)
    assert len(first) == 8 and len(second) == 12 and len(training_source("world[:12]", forms=["no"])) == 12


def test_world_source_texts_are_what_examples_give():
    src = training_source("world[:8]", forms=["no", "not_true"])
    texts, rng = src.texts(), np.random.default_rng(1)
    drawn = {t for i in range(300) for t in vars(src.example(i % 8, rng)).values()}
    assert drawn <= texts
    assert all(c in texts for r, named in zip(src.records, src.named) for c, _ in named)


def test_world_source_draws_every_configured_form():
    src = training_source("world[:6]", forms=["no", "not_true"])
    rng = np.random.default_rng(0)
    examples = [src.example(i % 6, rng) for i in range(40)]
    sentence = [e for e in examples if e.negated.startswith("It is not true that ")]
    assert 0 < len(sentence) < len(examples)
    for e in sentence:  # the presence side negates the caption itself; the absence side a caption made false
        assert e.negated == f"It is not true that {e.caption}"
        assert e.absence.startswith("It is not true that ") and e.absence != e.negated
    with pytest.raises(ValueError, match="unknown; choose from"):
        training_source("world[:6]", forms=["nope"])


def test_coco_folder_source(tmp_path):
    export_coco(world_dataset(6, seed=TRAIN_SEED), tmp_path / "coco")
    src = training_source(str(tmp_path / "coco"), forms=["no"])
    assert isinstance(src, WorldSource) and len(src) == 6
    assert src.pixels(0).shape == (64, 64, 3)
    _check_negations(src)


def _write_csv(folder, header, rows):
    Image.fromarray(scene(0, TRAIN_SEED).pixels).save(folder / "a.png")
    path = folder / "data.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_cc_neg_and_negationclip_tables(tmp_path):
    cc = training_source(str(_write_csv(tmp_path, ["image", "caption", "negated_caption"], [["a.png", "a red circle", "no red circle"]])))
    assert isinstance(cc, GivenSource) and (cc.has_negated, cc.has_absence) == (True, False)
    ex = cc.example(0, np.random.default_rng(0))
    assert (ex.caption, ex.negated, ex.absence) == ("a red circle", "no red circle", None)
    assert cc.pixels(0).shape == (64, 64, 3)
    nc = training_source(str(_write_csv(tmp_path, ["image", "caption", "absence"], [["a.png", "a red circle", "a red circle, with no blue cross"]])))
    assert (nc.has_negated, nc.has_absence) == (False, True)
    assert nc.example(0, np.random.default_rng(0)).absence == "a red circle, with no blue cross"


def test_table_errors_name_the_fix(tmp_path):
    with pytest.raises(DataError, match="match no layout"):
        training_source(str(_write_csv(tmp_path, ["image", "caption"], [["a.png", "a red circle"]])))
    with pytest.raises(DataError, match="line 2 has an empty 'presence'"):
        training_source(str(_write_csv(tmp_path, ["image", "caption", "negated_caption"], [["a.png", "a red circle", ""]])))
    with pytest.raises(DataError, match="does not exist"):
        training_source(str(tmp_path / "missing.csv"))


def test_world_source_skips_images_whose_captions_mention_no_object(tmp_path):
    data = world_dataset(4, seed=TRAIN_SEED)
    data.records[1].captions = ["an empty grey field"]
    src = WorldSource(data, forms=["no"])
    assert len(src) == 3 and src.skipped == 1
    _check_negations(src, n=3)


def test_training_on_the_evaluated_folder_reads_its_training_split_only(tmp_path):
    folder = str(export_coco(world_dataset(12), tmp_path / "coco"))
    src = training_source(folder, forms=["no"], evaluation=folder)
    evaluated = load_dataset(folder, role="evaluation")
    assert sorted(r.image_id for r in src.images) == [1, 5, 9]
    assert not {r.image_id for r in src.images} & {r.image_id for r in evaluated}
    assert "training split" in src.name
    whole = training_source(folder, forms=["no"])  # no evaluation named: the folder as given, as before
    assert len(whole) == 12


def test_training_data_sharing_evaluated_images_is_refused_with_the_count(tmp_path):
    evaluated = str(export_coco(world_dataset(12), tmp_path / "eval"))
    copy = str(export_coco(world_dataset(12), tmp_path / "copy"))  # the same images in another folder
    with pytest.raises(DataError, match=r"shares 6 image\(s\) with the evaluation data .*drop --train-data"):
        training_source(copy, forms=["no"], evaluation=evaluated)
    other = str(export_coco(world_dataset(12, seed=TRAIN_SEED), tmp_path / "train"))
    assert len(training_source(other, forms=["no"], evaluation=evaluated)) == 12  # disjoint data trains whole


def test_a_table_gets_a_validation_split_of_whole_images(tmp_path):
    for i in range(10):
        Image.fromarray(scene(i, TRAIN_SEED).pixels).save(tmp_path / f"{i}.png")
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["image", "caption", "presence"],
                                  *([f"{i}.png", f"cap {i}{k}", f"no cap {i}{k}"] for i in range(10) for k in "ab")])
    src = training_source(str(path))
    assert isinstance(src, GivenSource) and src.scorable and (src.image_count, len(src)) == (10, 20)
    held = src.hold_out(2)
    assert [r.path.name for r in held] == ["8.png", "9.png"] and all(len(r.given) == 2 for r in held)
    assert (src.image_count, len(src)) == (8, 16) and not {id(r) for r in held} & {id(r) for r in src.images}
    with pytest.raises(DataError, match="too few to hold 7 out"):
        src.hold_out(7)


def test_train2017_of_the_evaluated_folder_gives_its_training_split(tmp_path):
    for seed, split in ((20, "train2017"), (21, "val2017")):
        export_coco(world_dataset(8, seed=seed), tmp_path / "coco", split=split)
    evaluated = str(tmp_path / "coco" / "val2017")
    src = training_source(str(tmp_path / "coco" / "train2017"), forms=["no"], evaluation=evaluated)
    assert sorted(r.image_id for r in src.images) == [1, 2, 3, 5, 6, 7]  # 0 and 4 are analysed
    with pytest.raises(DataError, match=r"shares 8 image\(s\)"):  # val2017 is what evaluate scores
        training_source(evaluated, forms=["no"], evaluation=str(tmp_path / "coco"))
