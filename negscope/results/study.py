"""The layer study's result: front, middle, back, all and selected blocks fine-tuned alike over several seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Result


@dataclass
class SeedRun:
    """One block set fine-tuned with one seed: its metrics and their gains over the model before fine-tuning."""

    seed: int
    values: dict[str, float]
    gains: dict[str, float]
    negation_gain: float


@dataclass
class StudyRow:
    """One trained block set: per-seed runs, their mean metrics and gains, the spread over seeds, its analysis coverage.

    `std` is the spread over seeds of the metrics, and so of their gains too (the baseline is the same for every seed).
    `same_as` names the later sets of the study whose blocks are these (trained once, reported once); `objective` is
    the training objective (`TrainConfig.objective`: "clip" for the plain-loss baseline); `lr_scale` each block's
    factor on the learning rate (`TrainConfig.lr_scale`; empty: every trained block at the same rate).
    """

    set: str
    blocks: list[int]
    analysis_coverage: float | None
    values: dict[str, float]
    std: dict[str, float]
    gains: dict[str, float]
    negation_gain: float
    negation_gain_std: float
    runs: list[SeedRun]
    same_as: list[str] = field(default_factory=list)
    objective: str = "omni"
    lr_scale: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The set's name, with the names of the sets it equals, and its blocks: 'front = selected (0,1)'; with
        `lr_scale`, each block's factor: 'evidence_weighted (0×1.00,1×0.42)'."""
        blocks = [f"{k}×{self.lr_scale[k]:.2f}" if self.lr_scale else str(k) for k in self.blocks]
        return f"{' = '.join([self.set, *self.same_as])} ({','.join(blocks)})"


@dataclass
class RankCorrelation:
    """Spearman's rank correlation between the analysis coverage of the sets and their negation gain."""

    spearman_rho: float
    p_value: float
    n: int
    between: str


@dataclass
class FrontBack:
    """A paired t-test over shared seeds of the negation gain of front minus back blocks; `note` says it in words."""

    seeds: list[int]
    mean_difference: float
    std_difference: float
    n: int
    t_statistic: float | None
    p_value: float | None
    note: str

    def sentence(self) -> str:
        """The test in one sentence: the mean difference ± its std, n, t and p, then the note."""
        stats = f", t = {self.t_statistic:.2f}, p = {self.p_value:.3g}" if self.p_value is not None else ""
        return (f"Front vs back, paired over seeds {', '.join(map(str, self.seeds))}: negation gain difference "
                f"(front − back) {self.mean_difference:+.3f} ± {self.std_difference:.3f} (n = {self.n}{stats}); "
                f"{self.note}.")


@dataclass
class AgainstChance:
    """The selected set against random block sets of its size, trained alike over the same seeds.

    `rank` is the selected set's place by mean negation gain among itself and the random sets (1: best, ties
    counted against it); `p_value` the permutation p, (1 + the random sets gaining at least as much) / (1 + their
    number); `difference` the mean over seeds of the selected set's negation gain minus the random sets' mean at that
    seed, with its 95% t interval over seeds (`interval`, empty with one seed).
    """

    blocks: list[int]
    random_sets: list[list[int]]
    selected_gain: float
    random_gains: list[float]
    rank: int
    p_value: float
    difference: float
    interval: list[float]
    seeds: list[int]

    def sentence(self) -> str:
        """The answer in one sentence."""
        n = len(self.random_gains)
        ci = f" [{self.interval[0]:+.3f}, {self.interval[1]:+.3f}]" if self.interval else ""
        beats = self.p_value < 0.05 and bool(self.interval) and self.interval[0] > 0
        one = len(self.blocks) == 1
        verdict = ("beats" if one else "beat") if beats else ("does not beat" if one else "do not beat")
        return (f"The analysis-selected block{'' if one else 's'} {', '.join(map(str, self.blocks))} {verdict} chance: "
                f"among {n} random sets of {len(self.blocks)} block{'' if one else 's'} trained alike over seeds "
                f"{', '.join(map(str, self.seeds))}, {'it ranks' if one else 'they rank'} {self.rank} of {n + 1} by "
                f"negation gain (permutation p = {self.p_value:.3g}), "
                f"{self.difference:+.3f}{ci} over the random sets' mean.")


@dataclass
class StudyResult(Result):
    """`study.json`: the block sets compared under one training budget, each trained once per seed."""

    kind = "study"
    filename = "study.json"
    schema = 4

    model: str
    train_data: str
    eval_data: str
    images: int
    train_config: dict[str, Any]
    seeds: list[int]
    baseline: dict[str, float]
    rows: list[StudyRow]
    rank_correlation: RankCorrelation | None
    front_back: FrontBack
    against_chance: AgainstChance | None = None
