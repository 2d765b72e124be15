import json
import os
import subprocess
import sys

import pytest
import torch

from negscope.models import ModelLoadError, load_bundle


def test_tiny_bundle_shapes(tiny):
    assert len(tiny.text_layers) == 4
    feats = tiny.encode_text(["a red circle", "no blue square"])
    assert feats.shape == (2, tiny.model.config.projection_dim)
    assert torch.allclose(feats.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_local_folder_roundtrip(tiny, tmp_path, small_world):
    tiny.save(tmp_path / "m")
    for name in ("config.json", "model.safetensors", "tokenizer_config.json", "preprocessor_config.json"):
        assert (tmp_path / "m" / name).is_file()
    again = load_bundle(str(tmp_path / "m"))
    caps = small_world[0].captions
    assert torch.allclose(again.encode_text(caps), tiny.encode_text(caps), atol=1e-6)
    pix = [r.load_pixels() for r in small_world]
    assert torch.allclose(again.encode_image(pix), tiny.encode_image(pix), atol=1e-6)


def _fake_hub_cache(bundle, cache, repo_id):
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    snap = folder / "snapshots" / ("0" * 40)
    bundle.save(snap)
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)


def test_hub_id_loads_from_cache_through_the_hub_path(tiny, tmp_path):
    _fake_hub_cache(tiny, tmp_path / "hub", "negscope-test/tiny-clip")
    code = (
        "from negscope.models import load_bundle;"
        "b = load_bundle('negscope-test/tiny-clip');"
        "print(len(b.text_layers), float(b.encode_text(['a red circle'])[0, 0]))"
    )
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    layers, first = out.stdout.split()
    assert int(layers) == 4
    assert abs(float(first) - float(tiny.encode_text(["a red circle"])[0, 0])) < 1e-5


def test_unknown_id_offline_fails_fast_with_folder_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="local folder"):
        load_bundle("nobody-at-all/no-such-clip")


def test_folder_without_config_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json"):
        load_bundle(str(tmp_path))



def test_empty_caption_is_an_error(tiny):
    with pytest.raises(ValueError, match="caption 1 is empty"):
        tiny.encode_text(["a red circle", "   "])


def test_long_caption_truncated_with_counted_warning(tiny):
    long = " ".join(["red"] * 200)
    before = tiny.truncated
    with pytest.warns(UserWarning, match="1 caption"):
        tok = tiny.tokenize([long, "a red circle"])
    assert tok["input_ids"].shape[1] == tiny.context_length
    assert tok["input_ids"][0, -1] == tiny.tokenizer.eos_token_id
    assert tiny.truncated == before + 1


def _saved(tiny, folder):
    return tiny.save(folder)


def test_truncated_weights_are_a_model_load_error(tiny, tmp_path):
    folder = _saved(tiny, tmp_path / "m")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="SafetensorError.*restore them"):
        load_bundle(str(folder))


def test_nan_in_the_weights_is_refused(tiny, tmp_path):
    folder = _saved(tiny, tmp_path / "m")
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = b"\xff" * 64
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="NaN or infinity in .*: the weights file is corrupt"):
        load_bundle(str(folder))


def _edit_config(folder, change, name="config.json"):
    path = folder / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_weights_that_do_not_fill_the_config_are_refused(tiny, tmp_path):
    folder = _saved(tiny, tmp_path / "m")
    _edit_config(folder, lambda c: c.update(transformers_version="4.40.0"))  # older files may omit defaults
    _edit_config(folder, lambda c: c["text_config"].pop("num_hidden_layers"))  # the default, 12, is not the 4 saved
    with pytest.raises(ModelLoadError, match="lack tensors for its config .*text_model.encoder.layers"):
        load_bundle(str(folder))


@pytest.mark.parametrize(("name", "section", "key"), [
    ("config.json", "text_config", "num_attention_heads"),  # weights keep their shapes: only the numbers would change
    ("preprocessor_config.json", None, "size"),
])
def test_a_key_lost_from_a_complete_file_is_refused(tiny, tmp_path, name, section, key):
    folder = _saved(tiny, tmp_path / "m")
    _edit_config(folder, lambda c: (c[section] if section else c).pop(key), name)
    with pytest.raises(ModelLoadError, match=f"lacks {'' if section is None else section + '.'}{key}, which the "
                                             "transformers version that wrote it always writes"):
        load_bundle(str(folder))


def test_a_config_that_is_not_an_object_is_named(tiny, tmp_path):
    folder = _saved(tiny, tmp_path / "m")
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="holds a list, not a config object"):
        load_bundle(str(folder))
