"""Feature helpers shared by every metric: images once per image (cached on disk when given a cache folder), each
distinct text once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import torch

from ..data import ImageRecord
from ..data.loader import image_batches
from ..models import ClipBundle
from ..progress import tqdm
from .cache import FeatureCache

SHARD_ROWS = 4096


def pixel_tensors(arrays: list[np.ndarray]) -> list[torch.Tensor]:
    """Images as uint8 tensors, for pinned memory and resizing on a GPU (`ClipBundle.preprocess_on_device`)."""
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


def worker_transform(bundle: ClipBundle) -> Callable[[list[np.ndarray]], torch.Tensor | list[torch.Tensor]]:
    """What a loader's workers make of a batch of images: the pixel tensor on the CPU; on a GPU, uint8 tensors that
    `model_pixels` resizes there."""
    return pixel_tensors if bundle.device.type == "cuda" else bundle.preprocess


def model_pixels(bundle: ClipBundle, batch: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """The image tower's input from what `worker_transform` made."""
    return bundle.preprocess_on_device(batch) if isinstance(batch, list) else batch


def encoded_batches(bundle: ClipBundle, records: Sequence[ImageRecord], batch_size: int = 64,
                    progress: bool = False) -> Iterator[torch.Tensor]:
    """L2-normalised features of `records`' images, a CPU tensor per batch. Workers decode the images ahead of the
    model; on the CPU they also preprocess them, on a GPU the resizing runs there, under bf16 autocast."""
    loader = image_batches(records, worker_transform(bundle), batch_size, pin_memory=bundle.device.type == "cuda")
    with torch.inference_mode(), bundle.autocast(), tqdm(total=len(records), desc="image features", unit="img",
                                                        disable=None if progress else True, leave=False) as bar:
        for batch in loader:
            yield bundle.image_embeds(model_pixels(bundle, batch)).float().cpu()
            bar.update(len(batch))


def image_features(bundle: ClipBundle, images: Sequence[ImageRecord], progress: bool = False,
                   cache: str | Path | None = None, batch_size: int = 64) -> torch.Tensor:
    """One L2-normalised feature row per image of `images` (a `Dataset` or records). With a `cache` folder, images
    already encoded by this image tower (same weights, preprocessing, device and precision) are read from it, and the
    others are encoded once and added, a shard every `SHARD_ROWS` images."""
    records = list(images)
    if not records:
        raise ValueError("no images given; pass at least one image")
    if cache is None:
        return torch.cat(list(encoded_batches(bundle, records, batch_size, progress)))
    store = FeatureCache(cache, bundle.image_fingerprint())
    keys = [r.key() for r in records]
    todo = {k: r for k, r in zip(keys, records) if k not in store}
    new, done, pending = list(todo), 0, []
    for feats in encoded_batches(bundle, list(todo.values()), batch_size, progress):
        pending.append(feats)
        count = sum(map(len, pending))
        if count >= SHARD_ROWS or done + count == len(new):
            store.add(new[done : done + count], torch.cat(pending).numpy())
            done, pending = done + count, []
    return torch.from_numpy(store.rows(keys))


_SHARED: ContextVar[dict[int, tuple[dict[str, torch.Tensor], bool]] | None] = ContextVar("shared_texts", default=None)


@contextlib.contextmanager
def shared_texts(bundle: ClipBundle, progress: bool = False) -> Iterator[None]:
    """Within the block, `text_lookup` on `bundle` encodes each distinct text once, however many metrics ask for it,
    with a progress bar when `progress`. The bundle's weights must not change inside the block."""
    token = _SHARED.set({**(_SHARED.get() or {}), id(bundle): ({}, progress)})
    try:
        yield
    finally:
        _SHARED.reset(token)


def text_lookup(bundle: ClipBundle, texts: Sequence[str], progress: bool = False) -> tuple[torch.Tensor, dict[str, int]]:
    """Features for the distinct texts among `texts`, and each text's row (inside `shared_texts`, texts already
    encoded there are not encoded again). Shared token prefixes are encoded once where the model can."""
    unique = list(dict.fromkeys(texts))
    memo, shared_progress = (_SHARED.get() or {}).get(id(bundle), (None, False))
    new = unique if memo is None else [t for t in unique if t not in memo]
    feats = bundle.encode_text(new, by_length=True, share_prefixes=True, progress=progress or shared_progress) if new else None
    if memo is None:
        return feats, {t: i for i, t in enumerate(unique)}
    memo.update(zip(new, feats) if new else ())
    return torch.stack([memo[t] for t in unique]), {t: i for i, t in enumerate(unique)}
