"""The full evaluation of one model on one dataset: negation accuracies, MCQ, retrieval and the seed table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..data import Dataset
from ..data.forms import FORMS, TRAIN_FORMS, form_pairs
from ..data.negation import ImageNegations, build_negations
from ..models import ClipBundle
from ..results.evaluation import EvaluationRow
from ..results.similarity import SeedRow
from .features import image_features, shared_texts
from .negation import Triple, combination_rows, form_rows, image_interval, mcq_accuracy, negation_breakdown
from .paired import RowValues
from .retrieval import recall_chance, recall_rows, recall_summary
from .similarity import StudyTexts, similarity_study, study_texts


@dataclass
class Tasks:
    """The texts `evaluate` scores on one dataset and seed, the same for every model: the negations, every form's
    pairs and the seed study's pairs."""

    negations: list[ImageNegations]
    forms: dict[str, dict[str, list[Triple]]]
    study: StudyTexts


def evaluation_tasks(dataset: Dataset, seed: int = 0) -> Tasks:
    """`evaluate`'s tasks on `dataset`, drawn with `seed`: build them once to evaluate many models."""
    return Tasks(build_negations(dataset, seed=seed), form_pairs(dataset, list(FORMS.values()), seed=seed),
                 study_texts(dataset, seed))


def evaluate(
    bundle: ClipBundle, dataset: Dataset, seed: int = 0, progress: bool = False, image_feats: torch.Tensor | None = None,
    cache: str | Path | None = None, tasks: Tasks | None = None, held_out: list[str] | tuple[str, ...] = (),
    full: bool = True,
) -> EvaluationRow:
    """One evaluation row: negation accuracies, MCQ, retrieval and the seed table fields (`image_feats` reused if
    given, else computed through the feature `cache` folder when given; `tasks`, `evaluation_tasks(dataset, seed)`,
    made here unless given; with `held_out` categories, accuracy on the combinations fine-tuning never saw apart)."""
    return scored(bundle, dataset, seed, progress, image_feats, cache, tasks, held_out=held_out, full=full)[0]


def scored(
    bundle: ClipBundle, dataset: Dataset, seed: int = 0, progress: bool = False, image_feats: torch.Tensor | None = None,
    cache: str | Path | None = None, tasks: Tasks | None = None, trained_forms: tuple[str, ...] | list[str] = TRAIN_FORMS,
    held_out: list[str] | tuple[str, ...] = (), full: bool = True,
) -> tuple[EvaluationRow, dict[str, RowValues]]:
    """`evaluate`'s row, and per metric the values behind it (a hit or score per row, with the row's image), for the
    paired change between two models (`paired.paired_changes`); `trained_forms` and `held_out_forms` average the
    forms named in `trained_forms` and the others, `held_out_combinations` and `seen_combinations` presence and
    absence accuracy on the pairs that name a category of `held_out` and on the others.

    Args:
        bundle: the model.
        dataset: the images and captions.
        seed: the seed of the tasks drawn and the bootstrap.
        progress: show progress bars.
        image_feats: the images' features, computed unless given.
        cache: a feature cache folder for the image features.
        tasks: `evaluation_tasks(dataset, seed)`, made here unless given.
        trained_forms: the negation forms counted as trained on.
        held_out: the categories fine-tuning never saw (`data.combinations.held_out_categories`); none: no
            combination rows.
        full: score every negation form (`tasks.forms`) and the seed table (`similarity_study`); False leaves the
            per-form figures empty and the seed table's NaN (`pairs` 0), for runs that read neither (the layer
            study's), at about a third of the text encoding.

    Returns:
        (row, {metric: RowValues}).
    """
    if image_feats is not None and len(image_feats) != len(dataset):
        raise ValueError(
            f"image_feats has {len(image_feats)} rows for {len(dataset)} images of {dataset.name}; "
            "pass image_features(bundle, dataset) of this dataset or None"
        )
    tasks = evaluation_tasks(dataset, seed) if tasks is None else tasks
    truncated = bundle.truncated
    if len(tasks.negations) != len(dataset):
        raise ValueError(f"tasks cover {len(tasks.negations)} images, not the {len(dataset)} of {dataset.name}; "
                         "pass evaluation_tasks(dataset, seed) of this dataset or None")
    with shared_texts(bundle, progress):
        feats = image_features(bundle, dataset, progress=progress, cache=cache) if image_feats is None else image_feats
        mcq = mcq_accuracy(bundle, feats, tasks.negations, seed=seed)
        study = similarity_study(bundle, dataset, seed=seed, image_feats=feats, pairs=tasks.study) if full else None
        recalls = recall_rows(bundle, feats, dataset)
        forms = form_rows(bundle, feats, tasks.forms) if full else {}
        breakdown = negation_breakdown(bundle, feats, tasks.negations, seed=seed)
    recall, recall_ci = recall_summary(recalls, seed=seed)
    combinations = combination_rows(breakdown["rows"], tasks.negations, held_out) if held_out else {}
    combined = {f"{part}_combinations": RowValues.cell_means(list(kinds.values())) for part, kinds in combinations.items()}
    seed_rows = {} if study is None else {
        "flip_rate": RowValues(study.s_neg >= study.s_pos, study.pair_image),
        "pos_mean": RowValues(study.s_pos, study.pair_image), "neg_mean": RowValues(study.s_neg, study.pair_image)}
    by_form = {
        "trained_forms": RowValues.cell_means([v for f in forms if f in trained_forms for v in forms[f].values()]),
        "held_out_forms": RowValues.cell_means([v for f in forms if f not in trained_forms for v in forms[f].values()])}
    rows = breakdown.pop("rows") | mcq.rows | recalls | combined | seed_rows | by_form
    intervals = breakdown.pop("intervals") | {"mcq_accuracy": mcq.interval}
    if study is not None:
        intervals["flip_rate"] = image_interval(study.s_neg >= study.s_pos, study.pair_image, seed)
    intervals |= {k: v.interval(seed=seed) for k, v in combined.items()}
    halves = ("presence_accuracy", "absence_accuracy", "swap_accuracy", "both_negated_accuracy", "flip_rate",
              "trained_forms", "held_out_forms",
              *combined)
    row = EvaluationRow(
        **asdict(study.summary() if study else SeedRow.empty(bundle.spec))
        | {"truncated_captions": bundle.truncated - truncated},
        images=len(dataset),
        **breakdown,
        mcq_accuracy=mcq.accuracy,
        mcq_by_type=mcq.by_type,
        mcq_ties=mcq.ties,
        retrieval=recall,
        retrieval_ci=recall_ci,
        form_accuracy={f: {k: v.mean() for k, v in kinds.items()} for f, kinds in forms.items()},
        **{k: v.mean() for k, v in (combined | by_form).items()},
        combination_accuracy={part: {k: v.mean() for k, v in kinds.items()} for part, kinds in combinations.items()},
        intervals={k: v for k, v in intervals.items() if v},
        chance=dict.fromkeys(halves, 0.5) | {"mcq_accuracy": mcq.chance} | recall_chance(dataset),
    )
    return row, rows
