"""Fuzzing a model folder: each of 100 seeded random mutations (a cut file, a lost key, a value of the wrong type,
overwritten bytes, a deleted file) must end `negscope models --load` in a one-line error (exit 2) or load a model whose
text and image features are those of the intact folder; never a traceback, never exit 0 with other numbers."""

from __future__ import annotations

import json
import random
import shutil
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from negscope import cli
from negscope.models import load_bundle, tiny_bundle

SEED = 20240611
MUTATIONS = 100
KINDS = ("truncate", "delete_key", "wrong_type", "bad_bytes", "delete_file")
JSON_FILES = ("config.json", "preprocessor_config.json", "tokenizer_config.json")
WEIGHTS = "model.safetensors"
WRONG_VALUES = ("x", 7, None, [1], {"a": 1}, True, 1.5)
ERROR_PREFIX = "negscope models: error: "
CAPTIONS = ["a red circle", "there is no blue square"]


def _images() -> tuple[list[np.ndarray], np.ndarray]:
    """Two images at the model's input size, which skip the image processor (only its mean and std apply), and one
    of another size, which goes through it (resize and crop): without it, a broken size or crop setting would pass."""
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8) for _ in range(2)], rng.integers(
        0, 256, size=(48, 40, 3), dtype=np.uint8)


def _features(folder: Path) -> dict[str, torch.Tensor]:
    bundle = load_bundle(str(folder))
    images, resized = _images()
    return {"text": bundle.encode_text(CAPTIONS), "image": bundle.encode_image(images),
            "resized image": bundle.encode_image([resized])}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """The tiny model saved as a Hugging Face folder, and its text and image features as loaded intact."""
    base = tmp_path_factory.mktemp("folder_fuzz") / "base"
    tiny_bundle().save(base)
    assert sorted(p.name for p in base.iterdir()) == sorted([*JSON_FILES, WEIGHTS, "tokenizer.json"])
    return base, _features(base)


def _edit_json(rng: random.Random, folder: Path, wrong_type: bool) -> str:
    path = folder / rng.choice(JSON_FILES)
    data = json.loads(path.read_text(encoding="utf-8"))
    parent, target = rng.choice([("", data)] + [(f"{k}.", v) for k, v in sorted(data.items()) if isinstance(v, dict) and v])
    key = rng.choice(sorted(target))
    where = f"{path.name}: {parent}{key}"
    if wrong_type:
        value = rng.choice([v for v in WRONG_VALUES if type(v) is not type(target[key])])
        where += f": {json.dumps(target[key])[:40]} -> {value!r}"
        target[key] = value
    else:
        del target[key]
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return where


def mutate(rng: random.Random, folder: Path, kind: str) -> str:
    """Apply one mutation of `kind` to `folder`; return what it did."""
    if kind in ("delete_key", "wrong_type"):
        return f"{kind} {_edit_json(rng, folder, kind == 'wrong_type')}"
    path = rng.choice(sorted(p for p in folder.iterdir() if p.is_file()))
    data = path.read_bytes()
    if kind == "truncate":
        cut = rng.randrange(len(data))
        path.write_bytes(data[:cut])
        return f"truncate {path.name} at {cut} of {len(data)}"
    if kind == "bad_bytes":
        if path.name == WEIGHTS:  # >= 4 bytes of 0xFF make a float32 NaN or break the header: never a silent change
            n = rng.randint(4, 64)
            noise = b"\xff" * n
        else:
            n = rng.randint(1, 32)
            noise = None
        n = min(n, len(data))
        at = rng.randrange(len(data) - n + 1)
        if noise is not None:  # tensors start 8-aligned; a 4-byte run from offset 3 of a float could leave both finite
            at -= at % 4
        noise = noise[:n] if noise is not None else bytes(rng.randrange(256) for _ in range(n))
        path.write_bytes(data[:at] + noise + data[at + n:])
        return f"bad_bytes {path.name} [{at}:{at + n}] = {noise.hex()}"
    assert kind == "delete_file"
    path.unlink()
    return f"delete_file {path.name}"


def classify(rc, out: str, err: str, folder: Path, ref: dict[str, torch.Tensor]) -> tuple[str, str]:
    """('error' | 'unchanged', '') for a clean outcome, else ('failure', why)."""
    if "Traceback" in out or "Traceback" in err:
        return "failure", f"rc {rc} with a traceback printed: {err.strip().splitlines()[-1:]}"
    if rc == 2:
        lines = err.strip("\n").splitlines()
        if len(lines) == 1 and lines[0].startswith(ERROR_PREFIX):
            return "error", ""
        return "failure", f"rc 2 but stderr is not one error line: {err!r}"
    if rc != 0:
        return "failure", f"rc {rc!r}; stderr {err!r}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            features = _features(folder)
    except Exception as e:  # noqa: BLE001 - an exit 0 whose model then fails to load or encode is the failure
        return "failure", f"rc 0, but loading and encoding then raises {type(e).__name__}: {str(e)[:300]}"
    for what, want in ref.items():
        got = features[what]
        if got.shape != want.shape or not torch.allclose(got, want, atol=1e-6):
            diff = (got - want).abs().max().item() if got.shape == want.shape else f"shape {tuple(got.shape)}"
            return "failure", f"rc 0, but the {what} features differ from the reference (max |diff| {diff})"
    return "unchanged", ""


def summary(rows: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Counts of outcomes per mutation kind: {kind: {outcome: n}}."""
    counts: dict[str, Counter] = {k: Counter() for k in KINDS}
    for kind, outcome in rows:
        counts[kind][outcome] += 1
    return {k: dict(c) for k, c in counts.items()}


def format_table(table: dict[str, dict[str, int]], outcomes: tuple[str, ...]) -> str:
    lines = [f"{'kind':<12}" + "".join(f"{o:>11}" for o in outcomes)]
    lines += [f"{k:<12}" + "".join(f"{c.get(o, 0):>11}" for o in outcomes) for k, c in table.items()]
    return "\n".join(lines)


def test_model_folder_mutations_end_in_clean_errors_or_unchanged_numbers(model_folder, tmp_path, capsys):
    base, ref = model_folder
    rng = random.Random(SEED)
    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    for i in range(MUTATIONS):
        folder = tmp_path / f"m{i}"
        shutil.copytree(base, folder)
        kind = rng.choice(KINDS)
        what = mutate(rng, folder, kind)
        capsys.readouterr()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rc = cli.main(["models", "--load", str(folder)])
        except (Exception, SystemExit) as err:  # noqa: BLE001 - anything escaping main is a failure to report
            lines = str(err).strip().splitlines()
            outcome, why = "failure", f"main raised {type(err).__name__}: {lines[-1] if lines else ''}"
        else:
            out, err_text = capsys.readouterr()
            outcome, why = classify(rc, out, err_text, folder, ref)
        rows.append((kind, outcome))
        if outcome == "failure":
            failures.append(f"#{i} {what}\n    {why}")
        shutil.rmtree(folder, ignore_errors=True)
    table = summary(rows)
    with capsys.disabled():
        print(f"\nmodel folder fuzz, seed {SEED}, {MUTATIONS} mutations (kind x outcome):")
        print(format_table(table, ("error", "unchanged", "failure")))
    assert not failures, f"{len(failures)} of {MUTATIONS} mutations did not end cleanly:\n" + "\n".join(failures)
    assert all(table[k].get("error") for k in KINDS), f"a mutation kind never ended in a clean error: {table}"
