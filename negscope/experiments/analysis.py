"""The one context of the analysis stages (probes, attribution, patching, erasure): the model, its untrained copies,
the analysis split, the image-feature cache and the stage's clock.

A stage opens it with `Analysis.open(common, out)`. Inside `shared_analysis` (which `negscope run` holds around its
stages) every analysis stage of the same settings gets the same context, so the model is loaded, each untrained copy
built and each analysis split read once per run rather than once per stage; `release` drops them when a stage that
is not an analysis stage comes next.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .common import common_dataset, feature_cache
from .config import Common

if TYPE_CHECKING:
    import torch

    from ..data import Dataset
    from ..models import ClipBundle

_SHARED: list[Analysis] = []


class Analysis:
    """What the analysis stages share, each part built on first use.

    Args:
        common: the shared settings (model, data and its split, seed, untrained copies).
        cache: the image-feature cache folder.
    """

    def __init__(self, common: Common, cache: Path) -> None:
        self.common, self.cache = common, Path(cache)
        self.started = time.time()
        self._bundle: ClipBundle | None = None
        self._copies: dict[int, ClipBundle] = {}
        self._datasets: dict[int | None, Dataset] = {}

    @classmethod
    def open(cls, common: Common, out: str | Path) -> Analysis:
        """The context of a stage writing to `out`: the shared one when `shared_analysis` holds one for the same
        settings and cache, else a new one; its clock and torch's seed start now.

        Args:
            common: the shared settings.
            out: the stage's output folder (its default cache lives there).

        Returns:
            The context.
        """
        cache = feature_cache(common, out)
        ctx = next((c for c in _SHARED if c.common == common and c.cache == cache), None) or cls(common, cache)
        import torch

        ctx.started = time.time()
        torch.manual_seed(common.seed)
        return ctx

    @property
    def bundle(self) -> ClipBundle:
        """The model under analysis."""
        if self._bundle is None:
            from ..models import load_bundle

            self._bundle = load_bundle(self.common.model)
        return self._bundle

    @property
    def copy_seeds(self) -> list[int]:
        """The seeds of the untrained copies."""
        return self.common.untrained_seeds

    def copy(self, seed: int) -> ClipBundle:
        """The untrained copy of the model's architecture drawn with `seed`."""
        if seed not in self._copies:
            self._copies[seed] = self.bundle.untrained_copy(seed)
        return self._copies[seed]

    def dataset(self, limit: int | None) -> Dataset:
        """At most `limit` images of the analysis split (which shares no image with what `evaluate` scores)."""
        if limit not in self._datasets:
            self._datasets[limit] = common_dataset(self.common, limit, role="analysis")
        return self._datasets[limit]

    def image_features(self, model: ClipBundle, dataset: Dataset) -> torch.Tensor:
        """`model`'s image features of `dataset`, through the shared cache."""
        from ..evaluation.features import image_features

        return image_features(model, dataset, cache=self.cache)

    def seconds(self) -> float:
        """Seconds since the stage opened the context, to a tenth."""
        return round(time.time() - self.started, 1)

    def release(self) -> None:
        """Drop the model, the copies and the datasets (they are built again on next use)."""
        self._bundle = None
        self._copies.clear()
        self._datasets.clear()


@contextmanager
def shared_analysis(common: Common, out: str | Path) -> Iterator[Analysis]:
    """Within the block, every analysis stage opened with these settings and cache shares one `Analysis`.

    Args:
        common: the shared settings.
        out: the run folder (whose cache the stages share unless `common.cache` names one).

    Returns:
        A context manager yielding the shared context.
    """
    ctx = Analysis(common, feature_cache(common, out))
    _SHARED.append(ctx)
    try:
        yield ctx
    finally:
        _SHARED.remove(ctx)
        ctx.release()
