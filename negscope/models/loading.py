"""`load_bundle(spec)`: one entry point for hub ids, local folders, the shipped world model and `tiny`."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import torch
from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel
from transformers.utils import logging as hf_logging

from ..fingerprint import tree_fingerprint
from .bundle import ClipBundle
from .configs import clip_config
from .tokenizer import build_tokenizer

WORLD_DIR = Path(__file__).parent / "world"
FOLDER_FILES = "config.json, model.safetensors, tokenizer files and preprocessor_config.json"


class ModelLoadError(ValueError):
    """A model spec that cannot be loaded; the message says what to pass instead."""


def tiny_bundle(seed: int = 0) -> ClipBundle:
    """A randomly initialised tiny CLIP for tests: 4 text blocks, width 32."""
    from ..data.vocabulary import vocabulary

    tok = build_tokenizer(vocabulary())
    torch.manual_seed(seed)
    model = CLIPModel(clip_config("tiny", tok)).eval()
    size = model.config.vision_config.image_size
    proc = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return ClipBundle("tiny", model, tok, proc)


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _from_pretrained(source: str, spec: str, local_only: bool) -> ClipBundle:
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = CLIPModel.from_pretrained(source, local_files_only=local_only).eval()
        tok = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        proc = CLIPImageProcessorPil.from_pretrained(source, local_files_only=local_only)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return ClipBundle(spec, model, tok, proc)


def load_bundle(spec: str, device: str | torch.device = "cpu") -> ClipBundle:
    """Load 'tiny', 'world', a local Hugging Face folder, or a hub id such as openai/clip-vit-base-patch32."""
    if spec == "tiny":
        return tiny_bundle().to(device)
    if spec == "world":
        if not (WORLD_DIR / "config.json").is_file():
            raise ModelLoadError(
                f"the shipped world model is missing from {WORLD_DIR}; reinstall negscope or rebuild it "
                f"with `negscope world train --out {WORLD_DIR}`"
            )
        return _from_pretrained(str(WORLD_DIR), spec, True).to(device)
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"model folder {path} has no config.json; a model folder needs {FOLDER_FILES}")
        try:
            return _from_pretrained(str(path), spec, True).to(device)
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"model folder {path} is incomplete ({err}); it needs {FOLDER_FILES}") from None
    try:
        return _from_pretrained(spec, spec, True).to(device)
    except (OSError, ValueError):
        pass
    hint = (
        f"model {spec!r} is not a local folder, 'world' or 'tiny', and it is not in the Hugging Face cache"
    )
    if not _hub_reachable():
        raise ModelLoadError(
            f"{hint}, and the hub cannot be reached (offline). Download it on a connected machine "
            f"and pass its folder instead: --model /path/to/folder (holding {FOLDER_FILES})"
        ) from None
    try:
        return _from_pretrained(spec, spec, False).to(device)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{hint}, and the hub could not provide it ({err}); check the id or pass a local folder") from None


def model_fingerprint(spec: str) -> str:
    """What `load_bundle(spec)` would load, as a content hash: its folder's files, or the spec for `tiny`."""
    if spec == "tiny":
        return "tiny"
    folder = WORLD_DIR if spec == "world" else Path(spec).expanduser()
    if folder.is_dir():
        return tree_fingerprint(folder)
    try:
        from huggingface_hub import snapshot_download

        return tree_fingerprint(snapshot_download(spec, local_files_only=True))
    except (OSError, ValueError):  # not in the local cache, or not a hub id: the id is all there is to go on
        return spec
