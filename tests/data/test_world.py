import re
from collections import Counter

import numpy as np
import pytest

from negscope.data.negation import NEGATORS
from negscope.data.phrases import mentioned, mentions, noun_phrase
from negscope.data.world import (
    CATEGORIES,
    IMAGE_SIZE,
    POSITIONS,
    RELATIONS,
    SIZE_WORDS,
    captions_for,
    positions,
    relations,
    scene,
    scene_text,
    size_class,
    world_dataset,
)

SIZE_OF = {w: size for size, words in SIZE_WORDS.items() for w in words}


@pytest.fixture(scope="module")
def scenes():
    return world_dataset(150)


def test_scenes_are_deterministic_and_seeded():
    a, b = scene(3), scene(3)
    assert np.array_equal(a.pixels, b.pixels) and a.captions == b.captions
    assert not np.array_equal(scene(3, seed=0).pixels, a.pixels)
    assert scene_text(3) == (a.objects, a.captions)


def test_objects_and_boxes_fit_the_image_without_overlapping(scenes):
    kinds = Counter()
    for rec in scenes:
        counts = Counter(o.name for o in rec.objects)
        assert 1 <= len(rec.objects) <= 4 and 1 <= len(counts) <= 3 and max(counts.values()) <= 2
        kinds[max(counts.values())] += 1
        assert rec.pixels.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
        for k, obj in enumerate(rec.objects):
            assert obj.name in CATEGORIES
            x, y, w, h = obj.box
            assert 0 <= x and x + w <= IMAGE_SIZE and 0 <= y and y + h <= IMAGE_SIZE
            patch = rec.pixels[int(y) : int(y + h), int(x) : int(x + w)].reshape(-1, 3)
            assert np.abs(patch.astype(int) - 200).max() > 60
            for bx, by, bw, bh in (o.box for o in rec.objects[k + 1 :]):
                assert x + w <= bx or bx + bw <= x or y + h <= by or by + bh <= y
    assert kinds[2] >= 15, "some scenes should hold two objects of one kind"


def test_sizes_are_two_classes_that_show_in_the_render(scenes):
    sides = {"small": [], "large": []}
    for rec in scenes:
        for o in rec.objects:
            sides[size_class(o.box[2])].append(o.box[2])
    assert max(sides["small"]) + 4 <= min(sides["large"])
    assert min(len(s) for s in sides.values()) >= 50


def test_some_names_share_words_and_are_told_apart():
    shared = [(a, b) for a in CATEGORIES for b in CATEGORIES if b.startswith(a + " ")]
    assert ("red square", "red square frame") in shared
    assert mentioned("two red square frames next to a red square", ["red square", "red square frame"]) == [
        "red square", "red square frame"]
    assert mentioned("a pair of small red square frames", ["red square", "red square frame"]) == ["red square frame"]


def test_captions_mention_exactly_the_objects_in_the_image(scenes):
    for rec in scenes:
        for cap in rec.captions:
            assert mentioned(cap, CATEGORIES) == [c for c in CATEGORIES if c in rec.present], cap
            assert not set(re.findall(r"\w+", cap)) & NEGATORS


def _phrase_words(cap, m):
    """The words of a mention's noun phrase before it, and the clause right after it."""
    before = cap[noun_phrase(cap, m).start : m.start].split()
    after = re.match(r" (?:(?:that|which) (?:is|are) )?(\w+(?: the \w+)?)", cap[m.end :])
    return before, after.group(1) if after else ""


def test_counts_sizes_and_positions_in_the_captions_match_the_render(scenes):
    said = Counter()
    for rec in scenes:
        for cap in rec.captions:
            for name in rec.present:
                boxes = [o.box for o in rec.objects if o.name == name]
                (m,) = mentions(cap, name)
                before, after = _phrase_words(cap, m)
                assert m.plural == (len(boxes) == 2), cap
                if len(boxes) == 2:
                    assert " ".join(before[:3]) in ("two", "a pair of") or before[0] == "two", cap
                for word in [*before, after]:
                    if word in SIZE_OF:
                        assert all(size_class(b[2]) == SIZE_OF[word] for b in boxes), cap
                        said["size"] += 1
                if after in POSITIONS:
                    assert len(boxes) == 1 and after in positions(boxes[0]), cap
                    said["position"] += 1
    assert said["size"] > 300 and said["position"] > 50


def test_relations_in_the_captions_hold_between_the_boxes(scenes):
    checked = 0
    for rec in scenes:
        for cap in rec.captions:
            found = sorted((m.start, m.end, name) for name in rec.present for m in mentions(cap, name))
            for rel in RELATIONS:
                for hit in re.finditer(rf" {rel} ", cap):
                    a = [n for s, e, n in found if e <= hit.start()][-1]
                    b = next(n for s, e, n in found if s >= hit.end())
                    (box_a,), (box_b,) = ([o.box for o in rec.objects if o.name == n] for n in (a, b))
                    assert rel in relations(box_a, box_b), cap
                    checked += 1
    assert checked > 20


def test_captions_vary_their_determiners_and_phrasing(scenes):
    slots = Counter()
    for rec in scenes:
        for cap in rec.captions:
            for name in rec.present:
                slots[noun_phrase(cap, mentions(cap, name)[0]).slot] += 1
    assert {"a", "an", "the", "one", "", "two", "a pair of"} <= set(slots)
    assert "no" not in slots
    captions = [c for rec in scenes for c in rec.captions]
    for phrase in ("that is", "which is", "next to", "on its own", "there are", "these are"):
        assert any(phrase in c for c in captions), phrase
    assert len(set(captions)) >= 0.9 * len(captions)


def test_captions_without_boxes_name_counts_but_no_sizes_or_places():
    rng = np.random.default_rng(0)
    caps = captions_for(["red circle", "red circle", "blue star"], rng, count=9)
    assert len(caps) == 9 and all(mentioned(c, ["red circle", "blue star"]) == ["red circle", "blue star"] for c in caps)
    words = set(" ".join(caps).split())
    assert not words & (set(SIZE_OF) | {"left", "right", "top", "bottom", "above", "below"})
