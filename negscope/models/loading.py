"""`load_bundle(spec)`: one entry point for every model negscope reads.

Specs, tried in this order:
- `tiny` (random, for tests) and `world` (the shipped shapes-world CLIP);
- `open_clip:NAME:WEIGHTS` or `open_clip:hf-hub:ORG/REPO` (the optional open_clip backend);
- a local folder: Hugging Face CLIP or SigLIP (`config.json`), open_clip (`open_clip_config.json`), or a steered
  model (`steering.json`: a base model's spec and the hooks that move its text states, `models.steering`);
- a named backbone (`ViT-B/32`, `RN50x16`, ...; `negscope models` lists them), or `NAME:random`;
- a Hugging Face hub id, from the local cache or, when online, the hub.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import torch

from ..fingerprint import digest, tree_fingerprint
from .backbones import BACKBONES, RANDOM, random_backbone
from .bundle import ClipBundle, ModelLoadError
from .configs import SIZES
from .hf import TOKENIZER_FILES, HFBundle, has_tokenizer, load_hf, model_type, random_hf
from .openclip import CONFIG_FILE as OPEN_CLIP_CONFIG
from .openclip import PREFIX as OPEN_CLIP
from .openclip import load_openclip
from .steering import STEERING_FILE, Steering, install

WORLD_DIR = Path(__file__).parent / "world"
FOLDER_FILES = "config.json, model.safetensors, tokenizer files and preprocessor_config.json"


def new_bundle(size: str = "tiny", seed: int = 0) -> HFBundle:
    """A randomly initialised CLIP of a negscope size (`tiny` for tests, `world`) with CLIP's tokenizer."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose from {sorted(SIZES)}")
    return random_hf("clip", size, SIZES[size], seed)


def tiny_bundle(seed: int = 0) -> HFBundle:
    """A randomly initialised tiny CLIP for tests: 4 text blocks, width 32."""
    return new_bundle("tiny", seed)


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _load_folder(path: Path, spec: str) -> ClipBundle:
    if (path / OPEN_CLIP_CONFIG).is_file():
        return load_openclip(str(path))
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"model folder {path} has no config.json; a model folder needs {FOLDER_FILES}")
    if not has_tokenizer(path):
        raise ModelLoadError(
            f"model folder {path} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); copy the tokenizer files "
            "of the model it was trained from into it"
        )
    try:
        return load_hf(str(path), spec, True, model_type(path))
    except OSError as err:
        raise ModelLoadError(f"model folder {path} is incomplete ({err}); it needs {FOLDER_FILES}") from None


def _load_steered(path: Path, spec: str, device: str | torch.device) -> ClipBundle:
    steering = Steering.load(path)
    base = Path(steering.base).expanduser()
    if base.is_dir() and base.resolve() == path.resolve():
        raise ModelLoadError(f"steered model {path} names itself as its base; write it again with `negscope steer`")
    bundle = load_bundle(steering.base, device)
    install(bundle, steering)
    bundle.spec = spec
    return bundle


def _hub_kind(spec: str, local_only: bool) -> str:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(spec, local_files_only=local_only).model_type


def _load_hub(spec: str) -> ClipBundle:
    try:
        return load_hf(spec, spec, True, _hub_kind(spec, True))
    except ModelLoadError:
        raise
    except (OSError, ValueError):
        pass
    hint = f"model {spec!r} is not a local folder, a named backbone, 'world' or 'tiny', and it is not in the Hugging Face cache"
    if not _hub_reachable():
        raise ModelLoadError(
            f"{hint}, and the hub cannot be reached (offline). Download it on a connected machine "
            f"and pass its folder instead: --model /path/to/folder (holding {FOLDER_FILES})"
        ) from None
    try:
        return load_hf(spec, spec, False, _hub_kind(spec, False))
    except ModelLoadError:
        raise
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{hint}, and the hub could not provide it ({err}); check the id or pass a local folder") from None


def load_bundle(spec: str, device: str | torch.device = "cpu") -> ClipBundle:
    """Load the model `spec` names (see the module docstring) onto `device`."""
    if spec == "tiny":
        return tiny_bundle().to(device)
    if spec == "world":
        if not (WORLD_DIR / "config.json").is_file():
            raise ModelLoadError(
                f"the shipped world model is missing from {WORLD_DIR}; reinstall negscope or rebuild it "
                f"with `negscope world train --out {WORLD_DIR}`"
            )
        bundle = load_hf(str(WORLD_DIR), spec, True, "clip")
        return bundle.to(device)
    if spec.startswith(OPEN_CLIP):
        return load_openclip(spec).to(device)
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / STEERING_FILE).is_file():
            return _load_steered(path, spec, device)
        return _load_folder(path, spec).to(device)
    if spec.endswith(RANDOM):
        return random_backbone(spec[: -len(RANDOM)]).to(device)
    if spec in BACKBONES:
        return load_bundle(BACKBONES[spec].weights, device)
    return _load_hub(spec).to(device)


def model_fingerprint(spec: str) -> str:
    """What `load_bundle(spec)` would load, as a content hash: its folder or checkpoint file, else the spec itself."""
    if spec in BACKBONES:
        return model_fingerprint(BACKBONES[spec].weights)
    if spec == "tiny" or spec.endswith(RANDOM):
        return spec
    folder = WORLD_DIR if spec == "world" else Path(spec).expanduser()
    if (folder / STEERING_FILE).is_file():
        return digest([tree_fingerprint(folder), model_fingerprint(Steering.load(folder).base)])
    if folder.is_dir():
        return tree_fingerprint(folder)
    if spec.startswith(OPEN_CLIP):
        weights = Path(spec.split(":", 2)[-1]).expanduser()
        return tree_fingerprint(weights) if weights.is_file() else spec
    try:
        from huggingface_hub import snapshot_download

        return tree_fingerprint(snapshot_download(spec, local_files_only=True))
    except (OSError, ValueError):  # not in the local cache, or not a hub id: the id is all there is to go on
        return spec
