"""Shared fixtures: the tiny random model and a small world dataset."""

from __future__ import annotations

import pytest
import torch

from negscope.data import world_dataset
from negscope.models import ClipBundle, tiny_bundle

# Tiny models gain nothing from intra-op threads, and on a shared machine spinning threads cost a lot.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny() -> ClipBundle:
    """A tiny random CLIP shared by the session's tests (do not train it in place)."""
    return tiny_bundle()


@pytest.fixture(scope="session")
def small_world():
    """Eight held-out world scenes."""
    return world_dataset(8)
