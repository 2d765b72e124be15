import math

import pytest

from negscope.data import world_dataset
from negscope.data.combinations import (
    MIN_KINDS,
    held_out_categories,
    holds_held_out,
    names_held_out,
    seen_categories,
    seen_share,
    seen_world_dataset,
)
from negscope.data.world import CATEGORIES, TRAIN_SEED, scene_text


def _words_kept(categories, held):
    kept = [set(c.split()) for c in categories if c not in held]
    return all(any(w in k for k in kept) for c in held for w in c.split())


def test_held_out_categories_on_the_world():
    held = held_out_categories()
    assert held == held_out_categories()  # deterministic
    assert round(len(CATEGORIES) / 5) == len(held) and set(held) < set(CATEGORIES)
    assert _words_kept(CATEGORIES, held)  # every colour and shape stays seen in another combination
    assert seen_categories() == [c for c in CATEGORIES if c not in held]


@pytest.mark.parametrize("colours, shapes", [(5, 4), (10, 10), (3, 7), (2, 2)])
def test_held_out_categories_keep_every_word_on_any_grid(colours, shapes):
    categories = [f"c{i} s{j}" for i in range(colours) for j in range(shapes)]
    held = held_out_categories(categories)
    assert len(held) == max(1, round(len(categories) / 5))
    assert _words_kept(categories, held)
    used = [w for c in held for w in c.split()]  # spread over the words: none held out twice while another never is
    assert max(map(used.count, set(used))) <= math.ceil(len(held) / min(colours, shapes))


def test_held_out_categories_refuse_a_bad_share():
    with pytest.raises(ValueError, match="share"):
        held_out_categories(share=1.5)


def test_seen_world_dataset_skips_scenes_with_a_held_out_category_or_a_lone_kind():
    held = held_out_categories()
    everything = world_dataset(40, seed=TRAIN_SEED)
    pool = seen_world_dataset(12)
    assert len(pool) == 12 and not any(holds_held_out(r, held) for r in pool)
    assert all(len(set(r.present)) >= MIN_KINDS for r in pool)
    kept = [r.image_id for r in everything if not holds_held_out(r, held) and len(set(r.present)) > 1][:12]
    assert [r.image_id for r in pool] == kept  # the first scenes of the training seed that qualify, in order
    assert any(holds_held_out(r, held) for r in everything) and any(len(set(r.present)) == 1 for r in everything)


def test_few_test_captions_occur_in_the_pool_and_lone_kinds_would_raise_that():
    test = [c for i in range(300) for c in scene_text(i, 1)[1]]
    pool = seen_world_dataset(1500)
    assert seen_share(test, [c for r in pool for c in r.captions]) <= 0.02
    held, lone = held_out_categories(), []
    for i in range(pool[-1].image_id + 1):  # the scenes the pool skipped for their lone kind, put back
        objects, captions = scene_text(i, TRAIN_SEED)
        if len({o.name for o in objects}) == 1 and not set(held) & {o.name for o in objects}:
            lone += captions
    assert seen_share(test, [c for r in pool for c in r.captions] + lone) > 0.05


def test_names_held_out_reads_the_text():
    held = held_out_categories()
    assert names_held_out(f"a photo of two {held[0]}s", held)
    assert not names_held_out(f"a photo of {seen_categories()[0]}", held)
    assert "red square" in held and "red square frame" not in held
    assert not names_held_out("a red square frame next to a blue star", held)  # a longer name sharing its words
    assert not names_held_out("a green square frame and no red square frames", held)
    assert names_held_out("a red square frame and no red square", held)


def test_seen_share_counts_word_for_word_matches():
    pool = ["a red circle", "there is a blue square"]
    assert seen_share(["a red circle", "A  Red circle", "a red circles", "a blue square"], pool) == 0.5
    assert seen_share(["a red circle"] * 3 + ["no"], pool) == 0.75  # each occurrence counts
    assert math.isnan(seen_share([], pool))
