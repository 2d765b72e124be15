"""The probes stage's result: per task, a probe's accuracy at every site beside its control task and baselines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Result
from .evidence import BlockEvidence


@dataclass
class Score:
    """An out-of-fold accuracy with its 95% bootstrap interval (first seed) and its std over seeds; `features` says what a baseline read."""

    accuracy: float
    ci_low: float
    ci_high: float
    features: str = ""
    std: float = 0.0


@dataclass
class SiteScore:
    """A probe at one site beside its controls, each a mean over seeds (intervals: the first seed's bootstrap).

    `control_accuracy` is the control task's (random labels per caption type) and `untrained_accuracy` the same
    probe's on an untrained copy of the architecture. `selectivity` is accuracy minus the larger of the two
    (minus the control alone when no untrained copy was probed). `C` is the median regularisation strength the
    inner search chose, `C_at_edge` the share of fits whose choice was an end of the grid.
    """

    site: str
    accuracy: float
    ci_low: float
    ci_high: float
    control_accuracy: float
    selectivity: float
    C: float
    accuracy_std: float = 0.0
    untrained_accuracy: float | None = None
    untrained_ci_low: float | None = None
    untrained_ci_high: float | None = None
    untrained_std: float | None = None
    control_selectivity: float = 0.0
    untrained_gain: float | None = None
    selectivity_std: float = 0.0
    C_at_edge: float = 0.0


@dataclass
class ProbeSweep:
    """A probe at every site of one task, and the baselines, all on the same grouped folds per seed."""

    samples: int
    groups: int
    chance: float
    sites: list[SiteScore]
    baselines: dict[str, Score] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])

    def site(self, name: str) -> SiteScore:
        """The row of site `name`."""
        for row in self.sites:
            if row.site == name:
                return row
        raise KeyError(f"no probe at site {name!r}; sites are {[r.site for r in self.sites]}")


@dataclass
class TaskProbes(ProbeSweep):
    """A probing task's sweep at the pooled position, with its two class names and, where the task names an
    object, the sweep at that object's own last token (`at_object`)."""

    classes: list[str] = field(default_factory=list)
    at_object: ProbeSweep | None = None

    def beaten_by(self, sweep: ProbeSweep | None = None) -> str | None:
        """The surface baseline that scores at least as high as the probe at every site of `sweep` (default: the pooled
        sweep), or None. Where one does, the task is uninformative there: its labels read off the tokens as well as
        off any state, so its curve cannot say where the model represents them."""
        sites = (sweep or self).sites
        if not self.baselines or not sites:
            return None
        name, best = max(self.baselines.items(), key=lambda kv: kv[1].accuracy)
        return name if best.accuracy >= max(r.accuracy for r in sites) else None


@dataclass
class Divergence:
    """The mean cosine between the states of a caption and of its negation at one site, trained and untrained."""

    site: str
    mean_cosine: float
    untrained_cosine: float | None = None


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
    evidence: BlockEvidence | None = None
    excluded: dict[str, str] = field(default_factory=dict)
