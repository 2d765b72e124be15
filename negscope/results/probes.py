"""The probes stage's result: per task, a probe's accuracy at every site beside its control task and baselines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Result


@dataclass
class Score:
    """An out-of-fold accuracy with its 95% bootstrap interval; `features` says what a baseline read."""

    accuracy: float
    ci_low: float
    ci_high: float
    features: str = ""


@dataclass
class SiteScore:
    """A probe at one site: accuracy and interval, the control task's accuracy, selectivity and the chosen C."""

    site: str
    accuracy: float
    ci_low: float
    ci_high: float
    control_accuracy: float
    selectivity: float
    C: float


@dataclass
class ProbeSweep:
    """A probe at every site of one task, and the baselines, all on the same grouped folds."""

    samples: int
    groups: int
    chance: float
    sites: list[SiteScore]
    baselines: dict[str, Score] = field(default_factory=dict)

    def site(self, name: str) -> SiteScore:
        """The row of site `name`."""
        for row in self.sites:
            if row.site == name:
                return row
        raise KeyError(f"no probe at site {name!r}; sites are {[r.site for r in self.sites]}")


@dataclass
class TaskProbes(ProbeSweep):
    """A probing task's sweep, with its two class names."""

    classes: list[str] = field(default_factory=list)


@dataclass
class Divergence:
    """The mean cosine between the states of a caption and of its negation at one site."""

    site: str
    mean_cosine: float


@dataclass
class ProbesResult(Result):
    """`probes.json`: every probing task's sweep and the divergence curve."""

    kind = "probes"
    filename = "probes.json"

    model: str
    data: str
    images: int
    settings: dict[str, Any]
    tasks: dict[str, TaskProbes]
    divergence: list[Divergence]
    seconds: float
    threads: int
