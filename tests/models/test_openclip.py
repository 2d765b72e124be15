"""The open_clip backend on RN50x16 and ViT-B-32 built from config with random weights.

These run in the open_clip lane (`.ci/openclip`: its own venv with torch 2.14.1, torchvision 0.29.1 and
open_clip_torch) and are skipped wherever open_clip cannot be imported, as beside the CPU torch 2.13 build.
"""

import json

import numpy as np
import pytest
import torch

from negscope.attribution import aligned_pairs, layer_attributions, patch_pairs, token_attributions
from negscope.data import world_dataset
from negscope.data.pairs import negation_pairs
from negscope.evaluation.similarity import similarity_study
from negscope.finetune.config import TrainConfig
from negscope.finetune.data import training_source
from negscope.finetune.trainer import Trainer
from negscope.hooks import text_states
from negscope.models import BACKBONES, ModelLoadError, load_bundle
from negscope.models.openclip import available, open_clip_module
from negscope.probes import negated_task, sweep

pytestmark = [
    pytest.mark.openclip,
    pytest.mark.skipif(not available(), reason="open_clip is not importable here (run .ci/openclip)"),
]
SPECS = ["open_clip:RN50x16:random", "open_clip:ViT-B-32:random"]


@pytest.fixture(scope="module", params=SPECS)
def bundle(request):
    return load_bundle(request.param)


@pytest.fixture(scope="module")
def world():
    return world_dataset(6)


def test_text_features_equal_open_clip_encode_text(bundle):
    tok = bundle.tokenize(["a red circle", "no blue square"])
    open_clip = open_clip_module()
    theirs_ids = open_clip.get_tokenizer(bundle.source)(["a red circle", "no blue square"])
    assert torch.equal(tok["input_ids"], theirs_ids)
    with torch.inference_mode():
        torch.testing.assert_close(bundle.text_features(tok), bundle.model.encode_text(theirs_ids))


def test_similarity(bundle, world):
    row = similarity_study(bundle, world, seed=0).summary()
    assert row.pairs > 0 and 0 <= row.flips <= row.pairs


def test_capture_names_all_twelve_blocks(bundle):
    states = text_states(bundle, ["a red circle", "This is not a blue square"])
    assert list(states) == ["text.embed"] + [f"text.block.{k}" for k in range(12)]
    width = bundle.token_embedding.weight.shape[1]
    assert all(s.shape == (2, width) for s in states.values())
    assert not torch.allclose(states["text.block.0"], states["text.block.11"])


def test_one_probe(bundle, world):
    task = negated_task(world, captions_per_image=3)
    states = text_states(bundle, task.texts, sites=["text.block.5"])
    result = sweep({k: v.numpy() for k, v in states.items()}, task.labels, task.groups, task.texts, folds=2, n_boot=20)
    assert result.scores.sites[0].site == "text.block.5" and 0.0 <= result.scores.sites[0].accuracy <= 1.0


def test_attribution_on_two_pairs(bundle, world):
    rows, pos, neg = aligned_pairs(bundle, *negation_pairs(world, "presence"))
    image = bundle.encode_image([world[r].load_pixels() for r in rows[:2]])
    tokens = token_attributions(bundle, pos[:2], image, steps=4)
    assert all(abs(sum(t.attributions) - (t.score - t.baseline_score)) <= abs(t.delta) + 1e-4 for t in tokens)
    layers = layer_attributions(bundle, pos[:2], neg[:2], image, steps=4)
    assert layers.eos_share.shape == (2, 13)
    np.testing.assert_allclose(layers.importance.sum(1), layers.eos_share[:, -1] - layers.eos_share[:, 0], atol=1e-6)


def test_patching_all_positions_recreates_the_donor(bundle, world):
    rows, pos, neg = aligned_pairs(bundle, *negation_pairs(world, "presence"))
    image = bundle.encode_image([world[r].load_pixels() for r in rows[:2]])
    result = patch_pairs(bundle, pos[:2], neg[:2], image, positions="all", sites=["text.embed", "text.block.6"])
    np.testing.assert_allclose(result.patched, result.donor[:, None].repeat(2, 1), atol=1e-5)


def test_two_fine_tuning_steps_of_the_front_blocks(tmp_path):
    bundle = load_bundle("open_clip:ViT-B-32:random")
    before = {n: p.detach().clone() for n, p in bundle.model.named_parameters()}
    front = bundle.blocks[:4]
    trainer = Trainer(bundle, training_source("world[:8]"), front, TrainConfig(steps=2, batch_size=4, warmup=1, lr=1e-4),
                      cache=tmp_path / "cache")
    result = trainer.fit(tmp_path / "ft", progress=False)
    assert len(result.history) == 2 and np.isfinite(result.final_loss)
    changed = {n for n, p in bundle.model.named_parameters() if not torch.equal(before[n], p)}
    assert any(n.startswith("transformer.resblocks.0.") for n in changed)
    assert not any(n.startswith(("transformer.resblocks.11.", "visual.")) for n in changed)
    again = load_bundle(str(tmp_path / "ft"))
    torch.testing.assert_close(again.encode_text(["a red circle"]), bundle.encode_text(["a red circle"]))


def test_image_features_are_cached_by_the_image_tower_and_resized_alike_on_the_device(bundle, world, tmp_path):
    from PIL import Image

    from negscope.evaluation.features import image_features

    image = np.asarray(Image.fromarray(world[0].load_pixels()).resize((300, 200), Image.NEAREST))
    ours, theirs = bundle.preprocess_on_device([torch.from_numpy(image.copy())]), bundle.preprocess([image])
    assert ours.shape == theirs.shape and (ours - theirs).abs().mean() < 0.02
    first = image_features(bundle, world, cache=tmp_path)
    torch.testing.assert_close(image_features(bundle, world, cache=tmp_path), first, atol=0, rtol=0)
    assert [p.name for p in tmp_path.iterdir()] == [bundle.image_fingerprint()]
    with torch.no_grad():
        next(bundle.model.transformer.parameters()).add_(0)  # a text weight touched: the image fingerprint stays
    assert [p.name for p in tmp_path.iterdir()] == [bundle.image_fingerprint()]


def test_registry_matches_open_clip_config():
    cfg = open_clip_module().get_model_config("RN50x16")
    listed = BACKBONES["RN50x16"].config
    assert {k: cfg["text_cfg"][k] for k in listed["text_cfg"]} == listed["text_cfg"]
    assert {k: cfg["vision_cfg"][k] for k in listed["vision_cfg"]} == listed["vision_cfg"]


def test_spec_errors_say_what_to_write():
    with pytest.raises(ModelLoadError, match="names no weights.*openai"):
        load_bundle("open_clip:RN50x16")
    with pytest.raises(ModelLoadError, match="no model 'RN50x17'"):
        load_bundle("open_clip:RN50x17:random")


def test_folder_round_trip_and_tokenizer_check(tmp_path):
    bundle = load_bundle("open_clip:ViT-B-32:random")
    folder = bundle.save(tmp_path / "m")
    assert json.loads((folder / "open_clip_config.json").read_text())["model_cfg"]["text_cfg"]["layers"] == 12
    again = load_bundle(str(folder))
    torch.testing.assert_close(again.encode_text(["a red circle"]), bundle.encode_text(["a red circle"]))
    again.tokenizer.context_length = 64
    with pytest.raises(ModelLoadError, match="context 64, the model 77"):
        again.check_tokenizer(str(folder))


def test_head_analysis_reads_open_clips_attention_and_its_pooled_reruns_match_full_passes(bundle):
    from negscope.attribution import head_scores, negation_positions

    pos, neg = ["a red circle and a blue square", "two pink hearts"], ["a red circle and no blue square", "no pink hearts"]
    negator, end = negation_positions(bundle, neg, [["blue square"], ["pink heart"]])
    img = torch.nn.functional.normalize(torch.randn(2, bundle.encode_text(pos[:1]).shape[1]), dim=-1)
    tokens = bundle.tokenize(pos)
    with torch.no_grad():
        clean = bundle.text_embeds(tokens)
        handle = bundle.hook_heads(0, lambda states: states.z.clone())
        same = bundle.text_embeds(tokens)
        handle.remove()
    torch.testing.assert_close(same, clean, rtol=0, atol=1e-6)
    assert bundle.causal_text and bundle.heads == bundle.block_parts(0).heads > 1
    small = bundle.frozen_copy()  # two blocks keep the full passes, one per edit, quick
    small.model.transformer.resblocks = small.model.transformer.resblocks[:2]
    fast = head_scores(small, pos, neg, img, negator, end)
    full = head_scores(small, pos, neg, img, negator, end, full=True)
    np.testing.assert_allclose(fast.pos, (small.encode_text(pos) * img).sum(-1).numpy(), atol=1e-5)
    for edit in fast.edited:
        for caption in ("pos", "neg"):
            np.testing.assert_allclose(fast.edited[edit][caption], full.edited[edit][caption], atol=1e-5)


def test_steering_moves_only_negated_captions_of_an_open_clip_model(bundle):
    from negscope.models.steering import Steering, steered

    width = bundle.token_embedding.weight.shape[1]
    u = torch.nn.functional.normalize(torch.randn(width, generator=torch.Generator().manual_seed(0)), dim=0)
    steering = Steering(bundle.spec, "probe", "add", 20.0, ["text.block.0"], {"text.block.0": {"direction": u, "gap": torch.ones(1)}})
    captions = ["a red circle", "no red circle"]
    before = bundle.encode_text(captions)
    with steered(bundle, steering):
        during = bundle.encode_text(captions)
    torch.testing.assert_close(during[0], before[0], rtol=0, atol=1e-6)
    assert (during[1] - before[1]).abs().max() > 1e-4
