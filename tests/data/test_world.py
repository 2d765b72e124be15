import numpy as np

from negscope.data.world import CATEGORIES, IMAGE_SIZE, SHAPES, scene, world_dataset


def test_scenes_are_deterministic_and_seeded():
    a, b = scene(3), scene(3)
    assert np.array_equal(a.pixels, b.pixels) and a.captions == b.captions
    assert not np.array_equal(scene(3, seed=0).pixels, a.pixels)


def test_objects_boxes_and_captions_agree():
    for rec in world_dataset(40):
        assert 1 <= len(rec.objects) <= 3
        assert len(set(rec.present)) == len(rec.objects)
        assert rec.pixels.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
        for obj in rec.objects:
            assert obj.name in CATEGORIES
            x, y, w, h = obj.box
            assert 0 <= x and x + w <= IMAGE_SIZE and 0 <= y and y + h <= IMAGE_SIZE
            patch = rec.pixels[int(y) : int(y + h), int(x) : int(x + w)].reshape(-1, 3)
            assert np.abs(patch.astype(int) - 200).max() > 60
        for cap in rec.captions:
            assert all(name in cap for name in rec.present)
            assert not any(f"no {name}" in cap for name in CATEGORIES)


def test_captions_vary_the_word_before_each_object():
    before = set()
    for rec in world_dataset(60):
        for cap in rec.captions:
            words = cap.split()
            for i, w in enumerate(words[1:], start=1):
                if w in SHAPES and i >= 2:
                    before.add(words[i - 2])
    assert {"a", "the", "one"} <= before
    assert before & {"of", "is", "showing", "and", "to"}, "some objects should have no determiner"
    assert "no" not in before
