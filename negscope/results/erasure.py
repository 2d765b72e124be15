"""The erasure stage's result: what erasing the "negated" concept at each site does to the negation effect, beside
two control erasers of the same rank and untrained copies, what else it breaks, and the amnesic check."""

from __future__ import annotations

from dataclasses import dataclass

from ..stats import Change
from .base import Result
from .evidence import BlockEvidence


@dataclass
class Share:
    """A share of the negation effect removed by erasure, with its 95% interval over images."""

    share: float
    ci_low: float
    ci_high: float


@dataclass
class AmnesicProbe:
    """A linear probe refitted at one site on erased states (mean over tokens) of captions the eraser never saw: its out-of-fold
    accuracy before and after erasure, each with a 95% interval over images, and the majority rate (chance)."""

    before: float
    before_ci: list[float]
    after: float
    after_ci: list[float]
    chance: float


@dataclass
class ErasureSite:
    """Erasing at one site.

    `leace`, `random` and `shuffled`: the share of the negation effect removed by the real eraser and by its two
    controls of the same rank. `untrained`: the real eraser's share on each untrained copy (fitted on that copy),
    `over_untrained`: the model's share minus the copies' mean, with a paired interval over images. The changes are
    accuracy (presence, absence, swap pairs) and R@1 (both ways) after erasure against before, on the same images.
    """

    site: str
    leace: Share
    random: Share
    shuffled: Share
    untrained: list[float]
    untrained_mean: float
    untrained_spread: float
    over_untrained: Share
    presence: Change
    absence: Change
    swap: Change
    i2t_r1: Change
    t2i_r1: Change
    amnesic: AmnesicProbe


@dataclass
class ErasureResult(Result):
    """`erasure.json`: LEACE erasure per site on the model, its controls and untrained copies of its architecture;
    `evidence` is the per-block rise of the removed share over the copies'."""

    kind = "erasure"
    filename = "erasure.json"
    schema = 2

    model: str
    data: str
    seed: int
    method: str
    fit_images: int
    fit_texts: int
    eval_images: int
    pairs: dict[str, int]
    probe_captions: int
    untrained_seeds: list[int]
    sites: list[str]
    points: list[ErasureSite]
    evidence: BlockEvidence | None
    seconds: float
