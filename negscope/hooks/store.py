"""A streaming on-disk activation store: shards of per-site `.npy` files plus a manifest.

Layout of a store folder::

    manifest.json                       caption ids, texts, group ids, labels, site names, pools, dtype, model
    shard_00000/eos/text.embed.npy      (rows of this shard, width) for one pool and one site
    shard_00000/eos/text.block.0.npy
    ...

`write_store` captures one batch at a time and copies its pooled states into one shard buffer per site and pool,
allocated once and reused for every shard, so memory does not grow with the number of captions or shards. The
capture holds a single batch: states kept across a shard's batches would pin the allocator's heap between the
forward passes' temporaries and let it grow batch by batch. A shard folder appears by an atomic rename only once
all its files are written, so a rerun after an interruption resumes at the first missing shard.
`ActivationStore.states` reads one site for every caption without opening the files of other sites.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import read_json, write_json
from ..models import ClipBundle, Site
from ..progress import tqdm
from .capture import TextStates, capture_text_states

MANIFEST = "manifest.json"
FORMAT = 2
DTYPES = {"float16": torch.float16, "float32": torch.float32}


def _dtype_name(dtype: str | torch.dtype) -> str:
    name = dtype if isinstance(dtype, str) else str(dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise ValueError(f"store dtype {dtype!r} is not supported; use one of {sorted(DTYPES)}")
    return name


def _plain(values: Sequence[Any]) -> list:
    return np.asarray(list(values)).tolist()


def _shard_dir(folder: Path, index: int) -> Path:
    return folder / f"shard_{index:05d}"


def write_store(
    folder: str | Path,
    bundle: ClipBundle,
    texts: Sequence[str],
    groups: Sequence[Any],
    labels: dict[str, Sequence[Any]] | None = None,
    ids: Sequence[Any] | None = None,
    sites: Sequence[Site | str] | None = None,
    pools: Sequence[str] = ("eos",),
    dtype: str | torch.dtype = "float32",
    shard_size: int = 2048,
    batch_size: int = 256,
    progress: bool = False,
    anchors: Sequence[int] | torch.Tensor | None = None,
) -> ActivationStore:
    """Capture the pooled states of `texts` into `folder`, resuming from the shards already there.

    Args:
        folder: the store's folder (created; a store of other inputs there is refused).
        bundle: the model.
        texts: the captions, one row each.
        groups: per row, its group (the source image and caption).
        labels: label columns by name, one entry per row.
        ids: caption ids (default: the row numbers).
        sites: the sites to keep (default: all).
        pools: pooled states to keep, from 'eos', 'mean' and 'anchor'.
        dtype: 'float32' or 'float16'.
        shard_size: rows per shard.
        batch_size: captions per forward pass.
        progress: show a progress bar.
        anchors: for the 'anchor' pool, one token position per row (stored in the manifest).

    Returns:
        The finished store.
    """
    folder = Path(folder)
    texts = list(texts)
    if not texts:
        raise ValueError(f"no captions given for the activation store {folder}; pass at least one caption")
    if "tokens" in pools:
        raise ValueError("the store keeps pooled states only; choose pools from ('eos', 'mean', 'anchor')")
    if shard_size <= 0:
        raise ValueError(f"shard_size {shard_size} must be a positive number of captions")
    columns = {"id": _plain(ids if ids is not None else range(len(texts))), "text": texts, "group": _plain(groups)}
    if anchors is not None:
        columns["anchor"] = _plain(anchors)
    columns.update({f"label:{k}": _plain(v) for k, v in (labels or {}).items()})
    for key, col in columns.items():
        if len(col) != len(texts):
            raise ValueError(f"store column {key!r} has {len(col)} entries for {len(texts)} captions; give one per caption")
    name = _dtype_name(dtype)
    with capture_text_states(bundle, sites, pools=pools, dtype=DTYPES[name], anchors=anchors) as cap:
        manifest = {
            "format": FORMAT,
            "model": bundle.spec,
            "dtype": name,
            "sites": cap.sites,
            "pools": list(cap.pools),
            "rows": len(texts),
            "shard_size": shard_size,
            "shards": -(-len(texts) // shard_size),
            "captions": {k: v for k, v in columns.items() if not k.startswith("label:")},
            "labels": {k.removeprefix("label:"): v for k, v in columns.items() if k.startswith("label:")},
        }
        _open_manifest(folder, manifest)
        todo = [s for s in range(manifest["shards"]) if not _shard_dir(folder, s).is_dir()]
        buffers: dict[tuple[str, str], np.ndarray] = {}
        for s in tqdm(todo, desc=f"capture {folder.name}", disable=not progress, leave=False):
            shard = texts[s * shard_size : (s + 1) * shard_size]
            for start in range(0, len(shard), batch_size):
                cap.seek(s * shard_size + start)
                bundle.encode_text(shard[start : start + batch_size], batch_size=batch_size)
                _fill(buffers, cap, start, shard_size)
                cap.clear()
            _write_shard(folder, s, {key: buf[: len(shard)] for key, buf in buffers.items()})
    return ActivationStore(folder)


def _fill(buffers: dict[tuple[str, str], np.ndarray], cap: TextStates, start: int, shard_size: int) -> None:
    """Copy the batch `cap` holds into `buffers` from row `start`, allocating a (shard_size, width) buffer on first use."""
    for pool in cap.pools:
        for name, x in cap.pooled(pool).items():
            rows = x.numpy()
            if (pool, name) not in buffers:
                buffers[(pool, name)] = np.empty((shard_size, rows.shape[1]), rows.dtype)
            buffers[(pool, name)][start : start + len(rows)] = rows


def _open_manifest(folder: Path, manifest: dict) -> None:
    path = folder / MANIFEST
    if path.is_file():
        old = read_json(path)
        if old != manifest:
            diff = sorted(k for k in manifest if old.get(k) != manifest[k])
            raise ValueError(
                f"{folder} holds an activation store made with different {', '.join(diff)}; "
                "delete the folder or choose another output folder"
            )
        return
    write_json(path, manifest)


def _write_shard(folder: Path, index: int, states: dict[tuple[str, str], np.ndarray]) -> None:
    final = _shard_dir(folder, index)
    tmp = folder / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for (pool, name), rows in states.items():
        (tmp / pool).mkdir(parents=True, exist_ok=True)
        np.save(tmp / pool / f"{name}.npy", rows)
    os.replace(tmp, final)


class ActivationStore:
    """Read access to a store folder written by `write_store`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.manifest = read_json(self.folder / MANIFEST)
        if self.manifest.get("format") != FORMAT:
            raise ValueError(
                f"{self.folder} holds an activation store of format {self.manifest.get('format')}, this negscope reads "
                f"format {FORMAT}; delete the folder and capture again"
            )

    def __len__(self) -> int:
        return int(self.manifest["rows"])

    @property
    def sites(self) -> list[str]:
        """Site names, input side first."""
        return list(self.manifest["sites"])

    @property
    def texts(self) -> list[str]:
        """Caption texts, one per row."""
        return list(self.manifest["captions"]["text"])

    @property
    def ids(self) -> list[Any]:
        """Caption ids, one per row."""
        return list(self.manifest["captions"]["id"])

    @property
    def groups(self) -> np.ndarray:
        """Group id per row (the source image and caption)."""
        return np.asarray(self.manifest["captions"]["group"])

    def labels(self, name: str) -> np.ndarray:
        """The label column `name`, one entry per row."""
        if name not in self.manifest["labels"]:
            raise KeyError(f"store {self.folder} has no label {name!r}; it has {sorted(self.manifest['labels'])}")
        return np.asarray(self.manifest["labels"][name])

    @property
    def missing_shards(self) -> list[int]:
        """Shards not yet written (an interrupted capture); rerun `write_store` to fill them."""
        return [s for s in range(self.manifest["shards"]) if not _shard_dir(self.folder, s).is_dir()]

    def states(self, site: Site | str, pool: str = "eos") -> np.ndarray:
        """(rows, width) states at one site (a Site or its name), read from that site's files only."""
        name, names = Site(site).name, self.sites
        if name not in names:
            raise ValueError(f"store {self.folder} has no site {name!r}; it has {', '.join(names)}")
        if pool not in self.manifest["pools"]:
            raise ValueError(f"store {self.folder} has no pool {pool!r}; it has {self.manifest['pools']}")
        if self.missing_shards:
            raise ValueError(
                f"store {self.folder} is incomplete (shards {self.missing_shards[:5]}... missing); "
                "rerun the capture with the same arguments to resume it"
            )
        parts = [np.load(_shard_dir(self.folder, s) / pool / f"{name}.npy") for s in range(self.manifest["shards"])]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
