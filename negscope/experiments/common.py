"""Helpers shared by the stage runners: file-name slugs and folders whose results are keyed by their inputs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from ..io import read_json, write_text

STARTED = ".started"
MARKER = "stage.json"


def slug(spec: str) -> str:
    """A file-name-safe form of a model or data spec."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.strip("/")).strip("_") or "model"


def finished(folder: Path, key: str, marker: str) -> dict[str, Any] | None:
    """The marker file `folder/marker` when it was written for cache key `key`, else None."""
    path = folder / marker
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def claim(folder: Path, key: str, marker: str) -> None:
    """Make `folder` ready for work under `key`: keep an unfinished run of the same key, clear anything else."""
    started = folder / STARTED
    same = started.is_file() and started.read_text(encoding="utf-8").strip() == key
    if folder.exists() and not (same and not (folder / marker).exists()):
        print(f"clearing {folder}: it holds results made from other inputs")
        shutil.rmtree(folder)
    write_text(started, key)
