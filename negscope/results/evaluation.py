"""The evaluate stage's result: every negation metric and retrieval for each model, on one dataset."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Result
from .similarity import SeedRow


@dataclass
class PairedChange:
    """A metric's change after − before between two models scored on the same images, with the 95% interval of the
    change when whole images are resampled (paired: both models see the same resample); `real` when it excludes 0."""

    before: float
    after: float
    change: float
    ci_low: float
    ci_high: float
    real: bool


@dataclass
class EvaluationRow(SeedRow):
    """One model's metrics: presence, absence and swap accuracy, MCQ, retrieval and the seed Table 1 fields.

    The `*_by_objects` dicts split the one-draw presence and absence pairs by the number of distinct object categories
    in the image (the key, as a string), with the pairs behind each share in `*_pairs_by_objects`; the `*_all_pairs`
    accuracies cover every (caption, present object) and (caption, spread absent object) pair. `retrieval_ci` holds
    each recall's 95% interval over images and `intervals` that of each accuracy (and the flip rate); `chance` each
    metric's expected value under random scores. `form_accuracy` holds the presence and absence accuracy of every
    negation form (`data.forms`), on the same drawn objects for every form; `trained_forms` and `held_out_forms` the
    mean of presence and absence accuracy over the forms fine-tuning trained on and over the others. `changes` holds, in `evaluate`'s result,
    each metric's paired change against the result's first row (empty on the first row), `trained_forms` and
    `held_out_forms` (the mean of presence and absence accuracy over those forms) included. On data with held-out
    combinations (`data.combinations`), `held_out_combinations` is the mean of presence and absence accuracy over
    the one-draw pairs that name a category fine-tuning never saw and `seen_combinations` that over the others, each
    kind's share in `combination_accuracy` ({"held_out" | "seen": {"presence" | "absence": share}}); NaN and empty
    elsewhere. `mcq_ties` is the share of MCQ questions whose best score two or more options share (each broken at
    random). `label` names the row's role (before, steered, fine-tuned, both; empty when not given);
    `weights_changed` counts the weights that differ from the first row's model (None when not compared),
    `steering_values` the numbers a steered model's hooks add, and `seconds_per_1000_captions` the time its text tower
    took to encode 1,000 evaluation captions. `both_negated_accuracy` is the shortcut control: a true text negating an absent object against the same
    caption negating a present one in the same words, at chance (0.5) for a model that only marks down negators.
    """

    images: int = 0
    presence_accuracy: float = float("nan")
    absence_accuracy: float = float("nan")
    presence_by_objects: dict[str, float] = field(default_factory=dict)
    absence_by_objects: dict[str, float] = field(default_factory=dict)
    presence_pairs_by_objects: dict[str, int] = field(default_factory=dict)
    absence_pairs_by_objects: dict[str, int] = field(default_factory=dict)
    presence_all_pairs: float = float("nan")
    absence_all_pairs: float = float("nan")
    swap_accuracy: float = float("nan")
    both_negated_accuracy: float = float("nan")
    mcq_accuracy: float = float("nan")
    mcq_by_type: dict[str, float] = field(default_factory=dict)
    mcq_ties: float = float("nan")
    retrieval: dict[str, float] = field(default_factory=dict)
    retrieval_ci: dict[str, list[float]] = field(default_factory=dict)
    form_accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    trained_forms: float = float("nan")
    held_out_forms: float = float("nan")
    held_out_combinations: float = float("nan")
    seen_combinations: float = float("nan")
    combination_accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    intervals: dict[str, list[float]] = field(default_factory=dict)
    chance: dict[str, float] = field(default_factory=dict)
    changes: dict[str, PairedChange] = field(default_factory=dict)
    label: str = ""
    weights_changed: int | None = None
    steering_values: int = 0
    seconds_per_1000_captions: float = float("nan")

    def metric(self, name: str) -> float:
        """A metric by name, retrieval figures (`i2t_r1`, ...) included."""
        if name in self.retrieval:
            return self.retrieval[name]
        return getattr(self, name)

    def interval(self, name: str) -> list[float] | None:
        """A metric's 95% interval over images, when the row holds one."""
        return self.retrieval_ci.get(name) or self.intervals.get(name)


@dataclass
class EvaluationResult(Result):
    """`evaluation.json`: one row per model; the first is the baseline the others are compared with, each metric's
    change with its paired interval in their `changes`. `trained_forms`: the negation forms counted as trained on.
    `held_out`: the categories fine-tuning never saw (`data.combinations`; empty for data without them);
    `seen_share`: the share of the evaluated `captions`, and of the `negations` (the negated texts of the one-draw
    presence and absence pairs), that occur word for word among the texts fine-tuning draws (empty when not
    measured)."""

    kind = "evaluate"
    filename = "evaluation.json"
    schema = 4

    data: str
    seed: int
    skipped_images: int
    rows: list[EvaluationRow]
    trained_forms: list[str] = field(default_factory=list)
    held_out: list[str] = field(default_factory=list)
    seen_share: dict[str, float] = field(default_factory=dict)

    def tuned(self) -> EvaluationRow:
        """The fine-tuned model's row: the one labelled `fine-tuned`, else the last."""
        return next((r for r in self.rows if r.label == "fine-tuned"), self.rows[-1])
