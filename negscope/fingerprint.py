"""Content fingerprints for caches: a file tree by its files' sizes and modification times, and negscope's own code.

A stage's cache key combines the fingerprints of its model and data with its settings and the code's, so a
rerun redoes a stage whenever new weights are saved into the same folder, the data changes, or negscope does.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent


def digest(data: Any) -> str:
    """A stable short hash of JSON-able `data` (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def tree_fingerprint(path: str | os.PathLike) -> str:
    """A hash of every file under `path` (or of the file itself): relative name, size and modification time."""
    root = Path(path)
    if root.is_file():
        st = root.stat()
        return digest([root.name, st.st_size, st.st_mtime_ns])
    entries = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = Path(folder) / name
            st = p.stat()
            entries.append([p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return digest(entries)


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of negscope's version, Python sources and shipped data tables, so results made by other code are not
    reused."""
    try:
        version = metadata.version("negscope")
    except metadata.PackageNotFoundError:  # run from a source tree without installing: the sources still count
        version = "source"
    h = hashlib.sha256(version.encode())
    for p in sorted([*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.json")]):
        h.update(p.relative_to(PACKAGE).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
