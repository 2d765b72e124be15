"""Data tables: NegBench MCQ and negated-retrieval CSVs, and CSV/JSONL tables of given negations."""

import csv
import json

import pytest
from PIL import Image

from negscope.data import DataError, load_dataset, load_table
from negscope.data.forms import FORMS, GIVEN, form_pairs
from negscope.data.negation import build_negations
from negscope.data.world import scene

MCQ_HEADER = ["image_path", "correct_answer", "caption_0", "caption_1", "caption_2", "caption_3", "correct_answer_template"]


def _images(folder, *names):
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene(i).pixels).save(folder / name)


def _csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def _mcq(tmp_path):
    _images(tmp_path, "images/a.jpg", "images/b.jpg")
    return _csv(tmp_path / "COCO_val_mcq_llama3.1_rephrased.csv", MCQ_HEADER, [
        ["images/a.jpg", 2, "A dog on a couch.", "No dog is on the couch.", "A couch but no dog.", "A cat.", "hybrid"],
        ["images/b.jpg", 0, "A bus with no cars.", "A car.", "Cars but no bus.", "No bus.", "negation"],
    ])


def test_negbench_mcq_csv_gives_one_question_per_image(tmp_path):
    data = load_dataset(str(_mcq(tmp_path)))
    assert len(data) == 2 and data.brings_negations
    q = data[0].mcq
    assert q.answer == 2 and q.options[2] == "A couch but no dog." and q.answer_type == "hybrid"
    assert data[0].captions == ["A couch but no dog."] and data[1].mcq.answer_type == "negation"
    negs = build_negations(data)
    assert [n.mcq for n in negs] == [data[0].mcq, data[1].mcq] and not any(n.presence or n.swap for n in negs)


def test_a_missing_column_names_the_layouts(tmp_path):
    _images(tmp_path, "a.jpg")
    path = _csv(tmp_path / "mcq.csv", MCQ_HEADER[:-1], [["a.jpg", 0, "a", "b", "c", "d"]])
    with pytest.raises(DataError, match=r"match no layout.*mcq: image_path, correct_answer.*correct_answer_template"):
        load_table(path)


def test_a_missing_image_is_a_counted_skip_or_an_error_when_strict(tmp_path):
    path = _mcq(tmp_path)
    (tmp_path / "images" / "b.jpg").unlink()
    with pytest.warns(UserWarning, match="skipped 1 missing"):
        data = load_table(path)
    assert len(data) == 1 and data.skipped == [f"image {tmp_path / 'images/b.jpg'} (line 3) is missing"]
    with pytest.raises(DataError, match=r"images/b.jpg \(line 3\) is missing; restore the file .* or drop --strict"):
        load_table(path, strict=True)


def test_bad_answers_and_empty_options_name_the_line(tmp_path):
    _images(tmp_path, "a.jpg")
    with pytest.raises(DataError, match="line 2: correct_answer is '4'; it must be 0 to 3"):
        load_table(_csv(tmp_path / "m.csv", MCQ_HEADER, [["a.jpg", 4, "a", "b", "c", "d", "negation"]]))
    with pytest.raises(DataError, match="line 2 has an empty 'caption_1'"):
        load_table(_csv(tmp_path / "m.csv", MCQ_HEADER, [["a.jpg", 0, "a", "", "c", "d", "negation"]]))


def test_negbench_negated_retrieval_csv(tmp_path):
    _images(tmp_path, "a.jpg", "b.jpg")
    path = _csv(tmp_path / "COCO_val_negated_retrieval.csv", ["filepath", "image_id", "captions"], [
        ["a.jpg", 1, str(["A dog on a couch, with no cat.", "A couch and a dog, no people around."])],
        ["b.jpg", 2, json.dumps(["A bus on a street without any cars."])],
    ])
    data = load_dataset(str(path), limit=5)
    assert [len(r.captions) for r in data] == [2, 1] and not data.brings_negations
    assert data[1].captions[0] == "A bus on a street without any cars."
    with pytest.raises(DataError, match="line 2: 'captions' must be a list"):
        load_table(_csv(tmp_path / "r.csv", ["filepath", "captions"], [["a.jpg", "just a caption"]]))


def _given(tmp_path):
    _images(tmp_path, "a.jpg", "b.jpg")
    rows = [
        {"image": "a.jpg", "caption": "A dog sleeps on a couch.", "presence": "No dog sleeps on the couch.",
         "absence": "A dog sleeps on a couch; there is no cat.", "absence_false": "A dog sleeps on a couch with a cat."},
        {"image": "a.jpg", "caption": "A brown dog resting.", "presence": "A resting cat, no dog.",
         "absence": "A brown dog resting, no people.", "absence_false": "A brown dog resting with a man."},
        {"image": "b.jpg", "caption": "Two buses in a lot.", "presence": "An empty lot without buses.",
         "absence": "Two buses in a lot and no cars.", "absence_false": "Two buses and a car in a lot."},
    ]
    path = tmp_path / "negations.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path, rows


def test_a_jsonl_of_given_negations_replaces_the_rule_builders(tmp_path):
    path, rows = _given(tmp_path)
    data = load_dataset(str(path))
    assert len(data) == 2 and data[0].captions == [rows[0]["caption"], rows[1]["caption"]] and data.brings_negations
    negs = build_negations(data)
    assert negs[0].presence == [(r["caption"], r["presence"]) for r in rows[:2]]
    assert negs[1].absence == [(rows[2]["absence"], rows[2]["absence_false"])]
    pairs = form_pairs(data, list(FORMS.values()))
    assert list(pairs) == [GIVEN] and pairs[GIVEN]["presence"][2] == (1, rows[2]["caption"], rows[2]["presence"])


def test_a_column_the_table_has_is_filled_in_on_every_row(tmp_path):
    _images(tmp_path, "a.jpg")
    path = tmp_path / "n.jsonl"
    path.write_text('{"image": "a.jpg", "caption": "a dog", "presence": "no dog"}\n{"image": "a.jpg", "caption": "a cat"}\n')
    with pytest.raises(DataError, match="line 2 has an empty 'presence'"):
        load_table(path)
    path.write_text('{"image": "a.jpg", "caption": "a dog", "presence": "no dog"}\n[1, 2]\n')
    with pytest.raises(DataError, match="line 2 holds a list"):
        load_table(path)
