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
    """A probe at one site beside its controls, each a mean over seeds (intervals: the first seed's, over images).

    `control_accuracy` is the control task's (one random label per recurring unit, e.g. the negated object's name)
    and `untrained_accuracy` the same probe's on untrained copies of the architecture: the mean over the copies,
    `untrained_copies` each copy's, `untrained_std` their spread. `untrained_gain` is accuracy minus the copies'
    mean, with a paired interval over images (`gain_ci_low`, `gain_ci_high`). `selectivity` is accuracy minus the
    larger of control and untrained (minus the control alone when no copy was probed). `C` is the median
    regularisation strength the inner search chose, `C_at_edge` the share of fits whose choice was an end of the
    grid, `unconverged` the solves (every C, every fit at this site) that stopped at the iteration cap.
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
    untrained_copies: list[float] = field(default_factory=list)
    gain_ci_low: float | None = None
    gain_ci_high: float | None = None
    unconverged: int = 0


@dataclass
class ProbeSweep:
    """A probe at every site of one task, and the surface baselines that read the same text, all on the same
    grouped folds per seed; `images` is the number of images the rows come from."""

    samples: int
    groups: int
    chance: float
    sites: list[SiteScore]
    baselines: dict[str, Score] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    images: int = 0

    def site(self, name: str) -> SiteScore:
        """The row of site `name`."""
        for row in self.sites:
            if row.site == name:
                return row
        raise KeyError(f"no probe at site {name!r}; sites are {[r.site for r in self.sites]}")


@dataclass
class TaskProbes(ProbeSweep):
    """A probing task's sweep at the pooled position, with its two class names, its control unit, and, where the
    task names an object, the sweep at that object's own last token (`at_object`), whose baselines read the text
    up to that token."""

    classes: list[str] = field(default_factory=list)
    at_object: ProbeSweep | None = None
    control_unit: str = ""

    def beaten_by(self, sweep: ProbeSweep | None = None) -> str | None:
        """The surface baseline of `sweep` (default: the pooled sweep; its own baselines, or the task's where it has
        none) that scores at least as high as the probe at every site of it, or None. Where one does, the task is
        uninformative there: its labels read off the tokens as well as off any state, so its curve cannot say where
        the model represents them."""
        sweep = sweep or self
        baselines = sweep.baselines or self.baselines
        if not baselines or not sweep.sites:
            return None
        name, best = max(baselines.items(), key=lambda kv: kv[1].accuracy)
        return name if best.accuracy >= max(r.accuracy for r in sweep.sites) else None

    def uninformative(self, sweep: ProbeSweep | None = None) -> str | None:
        """Why `sweep` (default: the pooled one) is uninformative, in words, or None (`beaten_by`)."""
        sweep = sweep or self
        if (name := self.beaten_by(sweep)) is None:
            return None
        return (f"uninformative: the {name.replace('_', ' ')} baseline ({(sweep.baselines or self.baselines)[name].accuracy:.3f}) scores at "
                f"least as high as the probe at every site (best {max(r.accuracy for r in sweep.sites):.3f})")


@dataclass
class Divergence:
    """The mean cosine between the states of a caption and of its negation at one site, trained and untrained."""

    site: str
    mean_cosine: float
    untrained_cosine: float | None = None


@dataclass
class ProbesResult(Result):
    """`probes.json`: every probing task's sweep and the divergence curve; `evidence` is the per-block rise of
    probe selectivity over the untrained copies (the pooled readings of the informative tasks) and `excluded` the
    tasks left out of it, with the reason."""

    kind = "probes"
    filename = "probes.json"
    schema = 2

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
    unconverged: int = 0
