import numpy as np
import torch

from negscope.data.negation import TEMPLATE_NAMES
from negscope.evaluation.similarity import similarity_study


def test_similarity_equals_direct_cosine(tiny, small_world):
    res = similarity_study(tiny, small_world)
    assert res.scores.shape == (sum(len(r.captions) for r in small_world), len(TEMPLATE_NAMES))
    images = [r.load_pixels() for r in small_world]
    for p in (0, 7, len(res.captions) - 1):
        img = tiny.model.get_image_features(pixel_values=tiny.preprocess([images[res.pair_image[p]]])).pooler_output
        for j, name in enumerate(TEMPLATE_NAMES):
            tok = tiny.tokenize([res.texts[p][name]])
            txt = tiny.model.get_text_features(**tok).pooler_output
            direct = torch.nn.functional.cosine_similarity(img, txt).item()
            assert abs(direct - res.scores[p, j]) < 1e-5
    assert res.texts[0]["this_is_not"] == "This is not " + res.captions[0]


def test_summary_counts_flips(tiny, small_world):
    res = similarity_study(tiny, small_world)
    row = res.summary()
    assert row.pairs == len(res.captions)
    assert row.flips == int(np.sum(res.s_neg >= res.s_pos))
    assert abs(row.pos_mean - float(np.mean(res.scores[:, 0]))) < 1e-9
    assert abs(row.neg_std - float(np.std(res.scores[:, 3]))) < 1e-9
    assert set(row.templates) == set(TEMPLATE_NAMES)
