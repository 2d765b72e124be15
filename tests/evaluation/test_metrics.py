import numpy as np
import torch

from negscope.data.negation import build_negations
from negscope.evaluation.features import image_features
from negscope.evaluation.negation import (
    absence_accuracy,
    mcq_accuracy,
    negation_breakdown,
    pair_accuracy,
    presence_accuracy,
)
from negscope.evaluation.retrieval import retrieval


def test_pair_accuracy_matches_direct(tiny, small_world):
    feats = image_features(tiny, small_world)
    negs = build_negations(small_world)
    pairs = [(i, t, f) for i, n in enumerate(negs) for t, f in n.presence]
    t = tiny.encode_text([p[1] for p in pairs])
    f = tiny.encode_text([p[2] for p in pairs])
    img = feats[[p[0] for p in pairs]]
    expected = float(((img * t).sum(-1) > (img * f).sum(-1)).float().mean())
    assert pair_accuracy(tiny, feats, pairs) == expected == presence_accuracy(tiny, feats, negs)


def test_by_objects_split_the_one_draw_accuracy(tiny, small_world):
    feats = image_features(tiny, small_world)
    negs = build_negations(small_world)
    b = negation_breakdown(tiny, feats, negs)
    objects = [str(len(n.record.present)) for n in negs]
    for kind, overall in (("presence", presence_accuracy), ("absence", absence_accuracy)):
        acc, pairs = b[f"{kind}_by_objects"], b[f"{kind}_pairs_by_objects"]
        assert list(acc) == list(pairs) == sorted(acc, key=int)
        assert sum(pairs.values()) == sum(len(getattr(n, kind)) for n in negs)
        weighted = sum(acc[k] * pairs[k] for k in acc) / sum(pairs.values())
        assert abs(weighted - overall(tiny, feats, negs)) < 1e-6  # float32 means
        for k in acc:
            subset = [(i, t, f) for i, n in enumerate(negs) for t, f in getattr(n, kind) if objects[i] == k]
            assert len(subset) == pairs[k] and acc[k] == pair_accuracy(tiny, feats, subset)
    assert set(b["presence_by_objects"]) == set(objects)


def test_all_pairs_accuracy_matches_direct(tiny, small_world):
    feats = image_features(tiny, small_world)
    negs = build_negations(small_world)
    b = negation_breakdown(tiny, feats, negs)
    for kind in ("presence_all", "absence_all"):
        pairs = [(i, t, f) for i, n in enumerate(negs) for t, f in getattr(n, kind)]
        img = feats[[p[0] for p in pairs]]
        s_true = (img * tiny.encode_text([p[1] for p in pairs])).sum(-1)
        wins = s_true > (img * tiny.encode_text([p[2] for p in pairs])).sum(-1)
        assert len(pairs) > len(negs) and b[f"{kind}_pairs"] == float(wins.float().mean())


def test_retrieval_against_brute_force(tiny, small_world):
    feats = image_features(tiny, small_world)
    r, ci = retrieval(tiny, feats, small_world, ks=(1, 5))
    caps = [c for rec in small_world for c in rec.captions]
    owner = np.array([i for i, rec in enumerate(small_world) for _ in rec.captions])
    sims = (feats @ tiny.encode_text(caps).T).numpy()
    i2t1 = np.mean([owner[np.argmax(sims[i])] == i for i in range(len(small_world))])
    t2i5 = np.mean([j in np.argsort(-sims[:, j_cap])[:5] for j_cap, j in enumerate(owner)])
    assert abs(r["i2t_r1"] - i2t1) < 1e-9 and abs(r["t2i_r5"] - t2i5) < 1e-6
    assert set(ci) == set(r) and all(lo <= r[k] <= hi for k, (lo, hi) in ci.items())


def test_mcq_chance_and_ties():
    class Flat:
        def encode_text(self, texts, **_):
            return torch.ones(len(texts), 4) / 2

    from negscope.data import world_dataset

    ds = world_dataset(400)
    negs = build_negations(ds)
    score = mcq_accuracy(Flat(), torch.ones(len(ds), 4) / 2, negs, seed=0)
    acc, by_type = score.accuracy, score.by_type
    assert 0.19 < acc < 0.31
    assert set(by_type) == {"affirmation", "negation", "hybrid"}
    assert score.chance == 0.25 and score.interval[0] < acc < score.interval[1]


def test_a_model_that_cannot_tell_the_options_apart_scores_chance_on_a_negbench_file(tmp_path):
    import csv

    from PIL import Image

    from negscope.data import load_dataset
    from negscope.data.world import scene

    # NegBench's COCO MCQ file puts the correct answer at index 0 in every row
    (tmp_path / "images").mkdir()
    with open(tmp_path / "COCO_val_mcq_llama3.1_rephrased.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image_path", "correct_answer", "caption_0", "caption_1", "caption_2", "caption_3",
                    "correct_answer_template"])
        for i in range(120):
            Image.fromarray(scene(i).pixels[::4, ::4]).save(tmp_path / "images" / f"{i}.png")
            w.writerow([f"images/{i}.png", 0, f"a dog number {i}", f"no dog number {i}", f"a cat number {i}",
                        f"no cat number {i}", "affirmation"])
    data = load_dataset(str(tmp_path / "COCO_val_mcq_llama3.1_rephrased.csv"))
    negs = build_negations(data)
    assert [n.mcq.answer for n in negs] == [0] * 120

    class Flat:
        def encode_text(self, texts, **_):
            return torch.ones(len(texts), 4) / 2

    class Knows:  # the true option (index 0) alone points at the image
        def encode_text(self, texts, **_):
            return torch.tensor([[1.0, 0, 0, 0] if t.startswith("a dog") else [0, 1.0, 0, 0] for t in texts])

    flat = mcq_accuracy(Flat(), torch.ones(len(data), 4) / 2, negs, seed=0)
    assert flat.ties == 1.0 and flat.interval[0] < 0.25 < flat.interval[1] and flat.accuracy < 0.4
    knows = mcq_accuracy(Knows(), torch.tensor([[1.0, 0, 0, 0]] * len(data)), negs, seed=0)
    assert knows.ties == 0.0 and knows.accuracy == 1.0


def test_recall_chance_is_what_random_scores_give():
    from types import SimpleNamespace

    from negscope.evaluation.retrieval import recall_chance

    images = [SimpleNamespace(captions=["a", "b"]), SimpleNamespace(captions=["c"]), SimpleNamespace(captions=["d"])]
    chance = recall_chance(images, ks=(1, 2))
    assert abs(chance["i2t_r1"] - (2 / 4 + 1 / 4 + 1 / 4) / 3) < 1e-12 and abs(chance["t2i_r1"] - 1 / 3) < 1e-12
    # k = 2 of 4 captions: an image with 2 misses both with probability 1/6, one with 1 misses with probability 1/2
    assert abs(chance["i2t_r2"] - ((1 - 1 / 6) + 0.5 + 0.5) / 3) < 1e-12 and abs(chance["t2i_r2"] - 2 / 3) < 1e-12


def test_form_accuracy_matches_direct_and_covers_every_form(tiny, small_world):
    from negscope.data.forms import FORMS, form_pairs
    from negscope.evaluation.negation import form_accuracy
    from negscope.evaluation.suite import evaluate

    feats = image_features(tiny, small_world)
    pairs = form_pairs(small_world, list(FORMS.values()), seed=0)
    acc = form_accuracy(tiny, feats, pairs)
    for form in ("not", "missing"):
        triples = pairs[form]["absence"]
        img = feats[[t[0] for t in triples]]
        wins = (img * tiny.encode_text([t[1] for t in triples])).sum(-1) > (img * tiny.encode_text([t[2] for t in triples])).sum(-1)
        assert acc[form]["absence"] == float(wins.double().mean())
    row = evaluate(tiny, small_world, image_feats=feats)
    assert row.form_accuracy == acc and set(row.retrieval_ci) == set(row.retrieval)


def test_recall_hits_count_an_image_hit_through_any_of_its_captions():
    import torch

    from negscope.evaluation.retrieval import recall_hits

    img = torch.eye(3)[:2]
    text = torch.tensor([[0.0, 0.5, 0.0], [1.0, 0.0, 0.0], [0.9, 0.1, 0.0]])
    hits = recall_hits(img, text, [0, 0, 1], ks=(1,))
    assert hits["i2t_r1"].values.tolist() == [1.0, 0.0] and hits["t2i_r1"].values.tolist() == [0.0, 1.0, 0.0]
    assert hits["t2i_r1"].images.tolist() == [0, 0, 1]
