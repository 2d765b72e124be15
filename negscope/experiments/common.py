"""Helpers shared by the stage runners."""

from __future__ import annotations

import re


def slug(spec: str) -> str:
    """A file-name-safe form of a model or data spec."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.strip("/")).strip("_") or "model"
