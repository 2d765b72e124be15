import os

import numpy as np
import pytest
import torch

from negscope.data import Dataset, export_coco, load_coco, world_dataset
from negscope.evaluation import features
from negscope.evaluation.cache import FeatureCache
from negscope.evaluation.features import image_features
from negscope.models import tiny_bundle


def test_rows_come_back_by_key_across_shards(tmp_path):
    cache = FeatureCache(tmp_path, "model")
    cache.add(["a", "b"], np.array([[1, 2], [3, 4]], dtype=np.float32))
    cache.add(["c"], np.array([[5, 6]], dtype=np.float32))
    again = FeatureCache(tmp_path, "model")
    assert len(again) == 3 and "b" in again and "z" not in again
    assert again.rows(["c", "a", "c"]).tolist() == [[5, 6], [1, 2], [5, 6]]
    assert len(FeatureCache(tmp_path, "other")) == 0


def test_a_shard_whose_keys_were_never_written_is_not_read(tmp_path):
    cache = FeatureCache(tmp_path, "model")
    cache.add(["a"], np.ones((1, 2), dtype=np.float32))
    np.save(cache.folder / "interrupted.npy", np.zeros((1, 2), dtype=np.float32))
    (cache.folder / "broken.json").write_text("[\"b\"")
    assert list(FeatureCache(tmp_path, "model").index) == ["a"]
    with pytest.raises(ValueError, match="2 keys for 1 rows"):
        cache.add(["x", "y"], np.ones((1, 2), dtype=np.float32))


def _counting(monkeypatch):
    encoded = []
    original = features.encoded_batches

    def counted(bundle, records, *args, **kw):
        encoded.extend(records)
        return original(bundle, records, *args, **kw)

    monkeypatch.setattr(features, "encoded_batches", counted)
    return encoded


def test_images_are_encoded_once_per_image_tower(tmp_path, monkeypatch, small_world):
    encoded = _counting(monkeypatch)
    bundle = tiny_bundle()
    plain = image_features(bundle, small_world)
    first = image_features(bundle, small_world, cache=tmp_path)
    assert len(encoded) == 2 * len(small_world)
    torch.testing.assert_close(first, plain, atol=0, rtol=0)
    more = Dataset("more", list(small_world) + list(world_dataset(3, start=100)), small_world.categories)
    image_features(bundle, more, cache=tmp_path)
    assert len(encoded) == 2 * len(small_world) + 3  # only the new images
    with torch.no_grad():
        bundle.model.text_model.final_layer_norm.weight.add_(1)  # the text side does not change image features
    image_features(bundle, small_world, cache=tmp_path)
    assert len(encoded) == 2 * len(small_world) + 3
    with torch.no_grad():
        bundle.model.visual_projection.weight.mul_(2)
    image_features(bundle, small_world, cache=tmp_path)
    assert len(encoded) == 3 * len(small_world) + 3
    assert len(list(tmp_path.iterdir())) == 2  # one folder per image tower


def test_an_image_file_changed_in_place_is_encoded_again(tmp_path, monkeypatch):
    folder = export_coco(world_dataset(3), tmp_path / "coco")
    encoded = _counting(monkeypatch)
    bundle = tiny_bundle()
    before = image_features(bundle, load_coco(folder), cache=tmp_path / "cache")
    path = load_coco(folder)[0].path
    from PIL import Image

    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path)
    os.utime(path, ns=(1, 1))
    after = image_features(bundle, load_coco(folder), cache=tmp_path / "cache")
    assert len(encoded) == 4
    assert not torch.equal(before[0], after[0]) and torch.equal(before[1:], after[1:])


def test_a_long_pass_is_written_in_shards(tmp_path, monkeypatch, small_world):
    monkeypatch.setattr(features, "SHARD_ROWS", 4)
    image_features(tiny_bundle(), small_world, batch_size=3, cache=tmp_path)
    (folder,) = tmp_path.iterdir()
    sizes = sorted(np.load(p).shape[0] for p in folder.glob("*.npy"))
    assert sum(sizes) == len(small_world) and max(sizes) <= 6 and len(sizes) >= 2


def test_no_images_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no images given"):
        image_features(tiny_bundle(), [], cache=tmp_path)
