"""Shared fixtures: the tiny random model and a small world dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from negscope.data import world_dataset
from negscope.models import ClipBundle, tiny_bundle
from negscope.results import EvidenceSummary, SelectionResult, Stability

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


def _write_selection(folder: Path, blocks: list[int], combined: list[float] = ()) -> Path:
    evidence = EvidenceSummary([], [], {}, {}, list(combined), 1.0, Stability(0, 0, []))
    return SelectionResult(blocks, [], evidence, "given by the test", 0.5, 0).save(folder)


@pytest.fixture
def write_selection():
    """`write_selection(folder, blocks, combined=())`: a selection result choosing `blocks`, as the stage writes it."""
    return _write_selection
