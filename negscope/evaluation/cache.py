"""`FeatureCache`: feature rows on disk by key, for one model fingerprint, read back memory-mapped.

A cache folder holds one folder per fingerprint (`ClipBundle.image_fingerprint`: weights, preprocessing, device and
precision). Rows are written in shards, `<name>.npy` (float32, rows by position) and `<name>.json` (the rows' keys),
the keys last, so an interrupted write leaves no shard that is read; a long pass keeps every shard written before it
stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..io import atomic_path, read_json, write_json


class FeatureCache:
    """The rows cached under `fingerprint` in cache folder `root`."""

    def __init__(self, root: str | Path, fingerprint: str):
        self.folder = Path(root) / fingerprint
        self.index: dict[str, tuple[Path, int]] = {}
        self._shards: dict[Path, np.ndarray] = {}
        for keys_file in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            shard = keys_file.with_suffix(".npy")
            try:
                keys = read_json(keys_file)
            except ValueError:
                continue
            if shard.is_file():
                self.index.update({k: (shard, i) for i, k in enumerate(keys)})

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __len__(self) -> int:
        return len(self.index)

    def add(self, keys: Sequence[str], rows: np.ndarray) -> None:
        """Store `rows` (one per key) as a new shard."""
        if len(keys) != len(rows):
            raise ValueError(f"{len(keys)} keys for {len(rows)} rows")
        name = self.folder / uuid.uuid4().hex[:16]
        with atomic_path(name.with_suffix(".npy")) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(rows, dtype=np.float32))
        write_json(name.with_suffix(".json"), list(keys))
        self.index.update({k: (name.with_suffix(".npy"), i) for i, k in enumerate(keys)})

    def rows(self, keys: Sequence[str]) -> np.ndarray:
        """The cached rows of `keys`, in their order (every key must be cached)."""
        places = [self.index[k] for k in keys]
        out: np.ndarray | None = None
        by_shard: dict[Path, list[int]] = {}
        for j, (shard, _) in enumerate(places):
            by_shard.setdefault(shard, []).append(j)
        for shard, positions in by_shard.items():
            data = self._shards.get(shard)
            if data is None:
                data = self._shards[shard] = np.load(shard, mmap_mode="r")
            if out is None:
                out = np.empty((len(keys), data.shape[1]), dtype=np.float32)
            out[positions] = data[[places[j][1] for j in positions]]
        return out if out is not None else np.empty((0, 0), dtype=np.float32)
