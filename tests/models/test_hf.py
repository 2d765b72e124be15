"""The Hugging Face backends against Hugging Face's own outputs, on the named backbones built from config."""

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from negscope.data import world_dataset
from negscope.evaluation.similarity import similarity_study
from negscope.hooks import text_states
from negscope.models import BACKBONES, ModelLoadError, load_bundle, random_backbone
from negscope.models.hf import HFSiglipBundle, projected
from negscope.models.tokenizer import clip_tokenizer

CAPTIONS = ["a red circle", "This is not a blue square next to a green cross"]
HF_BACKBONES = [name for name, b in BACKBONES.items() if b.backend != "open_clip"]
WIDTH = 64  # published depth, names and sizes of everything else; towers shrunk so the test takes seconds


@pytest.fixture(scope="module", params=HF_BACKBONES)
def backbone(request):
    return random_backbone(request.param, width=WIDTH)


def test_published_depth_and_names_are_kept(backbone):
    b = BACKBONES[backbone.spec.removesuffix(":random")]
    assert len(backbone.text_layers) == b.text["blocks"] == 12
    assert backbone.context_length == b.text["context"]
    assert backbone.image_size == b.image_size
    assert [s.name for s in backbone.sites] == ["text.embed"] + [f"text.block.{k}" for k in range(12)]


def test_text_features_equal_the_model_own(backbone):
    tok = backbone.tokenize(CAPTIONS)
    with torch.inference_mode():
        ours = backbone.text_features(tok)
        model_input = {"input_ids": tok["input_ids"]}
        if not isinstance(backbone, HFSiglipBundle):  # SigLIP is run, as trained, without a mask
            model_input["attention_mask"] = tok["attention_mask"]
        theirs = projected(backbone.model.get_text_features(**model_input))
    torch.testing.assert_close(ours, theirs)


def test_token_ids_are_the_tokenizer_own(backbone):
    captions = [*CAPTIONS, "Ünïcödé  spaced   text, with punctuation!", "a"]
    assert backbone.tokenizer.backend_tokenizer is not None  # the fast path is the one tested
    assert backbone._token_ids(captions) == backbone.tokenizer(captions, add_special_tokens=True)["input_ids"]


def test_shared_prefixes_give_the_features_of_captions_encoded_alone(backbone):
    captions = [*CAPTIONS, "a red circle next to a blue square", "a red circle next to a green cross", "a red circle",
                "This is not a blue square", " ".join(["a red circle"] * 40)]
    assert backbone.packs_prefixes == (not isinstance(backbone, HFSiglipBundle))  # SigLIP's tower is not causal
    alone = backbone.encode_text(captions, batch_size=3)
    torch.testing.assert_close(backbone.encode_text(captions, batch_size=3, share_prefixes=True), alone)
    if backbone.packs_prefixes:  # eager attention takes an additive mask, sdpa a boolean one
        backbone.model.set_attn_implementation("eager")
        try:
            torch.testing.assert_close(backbone.encode_text(captions, share_prefixes=True), alone)
        finally:
            backbone.model.set_attn_implementation("sdpa")


def test_capture_names_every_block_and_matches_hidden_states(backbone):
    states = text_states(backbone, CAPTIONS, pool="eos")
    assert list(states) == [s.name for s in backbone.sites]
    tok = backbone.tokenize(CAPTIONS)
    with torch.inference_mode():
        hidden = backbone.model.text_model(input_ids=tok["input_ids"], output_hidden_states=True,
                                           **({} if isinstance(backbone, HFSiglipBundle) else
                                              {"attention_mask": tok["attention_mask"]})).hidden_states
    pooled = backbone.pool_positions(tok["input_ids"])
    rows = torch.arange(len(CAPTIONS))
    for k in (0, 5, 11):
        torch.testing.assert_close(states[f"text.block.{k}"], hidden[k + 1][rows, pooled])


def test_similarity_study_runs(backbone):
    row = similarity_study(backbone, world_dataset(3), seed=0).summary()
    assert row.pairs > 0 and -1 <= row.pos_mean <= 1 and 0 <= row.flips <= row.pairs


def test_siglip_pads_to_its_context_pools_last_and_has_a_bias():
    siglip = random_backbone("SigLIP-B/16", width=WIDTH)
    tok = siglip.tokenize(CAPTIONS)
    assert tok["input_ids"].shape[1] == 64
    assert siglip.pool_positions(tok["input_ids"]).tolist() == [63, 63]
    with torch.no_grad():
        siglip.model.logit_bias.fill_(-3.0)
    assert siglip.logits(torch.zeros(2)).tolist() == [-3.0, -3.0]
    assert "logit_bias" in siglip.always_trained


def test_siglip_folder_round_trip(tmp_path):
    siglip = random_backbone("SigLIP-B/16", width=WIDTH)
    siglip.save(tmp_path / "s")
    again = load_bundle(str(tmp_path / "s"))
    assert isinstance(again, HFSiglipBundle)
    torch.testing.assert_close(again.encode_text(CAPTIONS), siglip.encode_text(CAPTIONS))


def test_untrained_copy_keeps_the_architecture_not_the_weights(tiny):
    copy = tiny.untrained_copy(seed=3)
    assert type(copy) is type(tiny) and copy.model.config.to_dict() == tiny.model.config.to_dict()
    assert not torch.allclose(copy.encode_text(CAPTIONS), tiny.encode_text(CAPTIONS))
    torch.testing.assert_close(tiny.untrained_copy(seed=3).encode_text(CAPTIONS), copy.encode_text(CAPTIONS))


def test_unknown_backbone_lists_the_names():
    with pytest.raises(ModelLoadError, match="ViT-B/32, ViT-B/16"):
        load_bundle("ViT-B/31:random")


# ---- tokenizer checks at load: each is a one-line error and exit code 2 from the CLI


def _cli_error(folder) -> str:
    out = subprocess.run([sys.executable, "-m", "negscope", "models", "--load", str(folder)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def _saved(tiny, folder):
    tiny.save(folder)
    return folder


def test_folder_without_tokenizer_is_refused(tiny, tmp_path):
    folder = _saved(tiny, tmp_path / "m")
    for f in folder.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "merges", "special_tokens")):
            f.unlink()
    line = _cli_error(folder)
    assert str(folder) in line and "no tokenizer" in line and "tokenizer.json" in line


def test_tokenizer_of_another_model_is_refused(tiny, tmp_path):
    folder = _saved(tiny, tmp_path / "m")
    other = copy.deepcopy(clip_tokenizer())
    other.add_tokens(["zebraquartz", "violinzebra"])  # a tokenizer with ids past the model's embedding table
    other.save_pretrained(folder)
    line = _cli_error(folder)
    assert "tokenizer of another model" in line and str(folder) in line


def test_config_and_tokenizer_mismatch_is_refused(tiny, tmp_path):
    folder = _saved(tiny, tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["eos_token_id"] = 5
    (folder / "config.json").write_text(json.dumps(config))
    assert "pools at id 5" in _cli_error(folder)

    folder = _saved(tiny, tmp_path / "n")
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    settings["model_max_length"] = 64
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    assert "context is 77" in _cli_error(folder)


def test_resizing_on_the_device_matches_the_backend_preprocessing(backbone):
    from PIL import Image

    scenes = [world_dataset(2)[i].load_pixels() for i in range(2)]
    images = [np.asarray(Image.fromarray(s).resize(wh, Image.NEAREST)) for s, wh in zip(scenes, [(300, 200), (150, 410)])]
    images.append(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    ours = backbone.preprocess_on_device([torch.from_numpy(a.copy()) for a in images])
    theirs = backbone.preprocess(images)
    assert ours.shape == theirs.shape == (3, 3, backbone.image_size, backbone.image_size)
    assert (ours - theirs).abs().mean(dim=(1, 2, 3)).max() < 0.01  # about a third of one grey level


def test_the_image_fingerprint_follows_the_image_tower_only(backbone):
    before = backbone.image_fingerprint()
    text_weight = next(backbone.model.text_model.parameters())
    image_weight = next(backbone.model.vision_model.parameters())
    kept = text_weight.detach().clone(), image_weight.detach().clone()
    with torch.no_grad():
        text_weight.add_(1)
        assert backbone.image_fingerprint() == before
        image_weight.add_(1)
        changed = backbone.image_fingerprint()
        text_weight.copy_(kept[0])
        image_weight.copy_(kept[1])
    assert changed != before and backbone.image_fingerprint() == before


def test_encoding_by_length_keeps_each_caption_its_own_feature(backbone):
    captions = ["a red circle next to a small blue square and a green cross", "a cat", "two dogs on a sofa", "no"]
    alone = torch.cat([backbone.encode_text([c]) for c in captions])
    torch.testing.assert_close(backbone.encode_text(captions, batch_size=2), alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(backbone.encode_text(captions, batch_size=2, by_length=True), alone, atol=1e-5, rtol=0)


def test_preprocessing_that_pads_the_image_is_refused(tiny, tmp_path):
    from negscope.models.loading import load_bundle as load

    folder = _saved(tiny, tmp_path / "m")
    settings = json.loads((folder / "preprocessor_config.json").read_text())
    settings["size"] = 7  # resized below the 32-pixel crop, the crop pads it
    (folder / "preprocessor_config.json").write_text(json.dumps(settings))
    with pytest.raises(ModelLoadError, match="pads the image"):
        load(str(folder))


def test_half_saved_weights_load_as_float32_with_the_same_features(tiny, tmp_path):
    from safetensors.torch import load_file

    tiny.save(tmp_path / "half", half=True)
    assert {t.dtype for t in load_file(tmp_path / "half" / "model.safetensors").values()} == {torch.float16}
    loaded = load_bundle(str(tmp_path / "half"))
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}
    captions = ["a red circle", "no blue square on the left"]
    np.testing.assert_allclose(loaded.encode_text(captions), tiny.encode_text(captions), atol=2e-3)
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < 0.6 * _saved(tiny, tmp_path / "full").joinpath(
        "model.safetensors").stat().st_size
