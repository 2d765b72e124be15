"""Fuzzing a model folder: each of 100 seeded random mutations must end `negscope models --load` in a one-line error,
or load a model whose text and image features are those of the intact folder: never a traceback, never exit 0 with
other numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from negscope.models import load_bundle, tiny_bundle

CAPTIONS = ["a red circle", "there is no blue square"]


def _features(folder: Path) -> dict[str, torch.Tensor]:
    """Text features, features of two images at the model's input size (only the mean and std apply to them), and of
    one image of another size, which goes through resizing and cropping."""
    bundle = load_bundle(str(folder))
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8) for _ in range(2)]
    resized = rng.integers(0, 256, size=(48, 40, 3), dtype=np.uint8)
    return {"text": bundle.encode_text(CAPTIONS), "image": bundle.encode_image(images),
            "resized image": bundle.encode_image([resized])}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """The tiny model saved as a Hugging Face folder, and its features as loaded intact."""
    base = tiny_bundle().save(tmp_path_factory.mktemp("folder_fuzz") / "base")
    return base, _features(base)


def _judge(ref: dict[str, torch.Tensor]):
    def judge(folder: Path, out: Path) -> tuple[str, str]:
        try:
            got = _features(folder)
        except Exception as err:  # noqa: BLE001 - an exit 0 whose model then fails to load or encode is the failure
            return "failure", f"exit 0, but loading and encoding then raises {type(err).__name__}: {str(err)[:300]}"
        for what, want in ref.items():
            if got[what].shape != want.shape or not torch.allclose(got[what], want, atol=1e-6):
                return "failure", f"exit 0, but the {what} features differ from the intact folder's"
        return "unchanged", ""

    return judge


def test_model_folder_mutations_end_in_clean_errors_or_unchanged_numbers(model, fuzz):
    base, ref = model
    table = fuzz.run("model folder fuzz", base, lambda folder, out: ["models", "--load", str(folder)], _judge(ref),
                     ("error", "unchanged"), json_files=lambda folder: sorted(folder.glob("*config.json")),
                     run_of={"model.safetensors": b"\xff"})  # 4+ aligned 0xFF bytes: a NaN float, or a broken header
    assert all(table[k].get("error") for k in fuzz.KINDS), f"a mutation kind never ended in a clean error: {table}"
