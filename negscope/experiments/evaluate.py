"""`negscope evaluate`: every negation metric for one or more models, and a before/after table."""

from __future__ import annotations

from pathlib import Path

from ..data import Dataset, world_count
from ..data.combinations import held_out_categories, seen_share
from ..data.forms import TRAIN_FORMS
from ..evaluation.paired import paired_changes
from ..evaluation.suite import Tasks, evaluation_tasks, scored
from ..finetune.data import WorldSource, training_source
from ..io import write_csv, write_text
from ..models import load_bundle
from ..results import EvaluationResult
from .common import common_dataset, feature_cache
from .config import Common, EvaluateConfig

TABLE_COLUMNS = (
    "presence_accuracy", "absence_accuracy", "mcq_accuracy", "swap_accuracy", "both_negated_accuracy",
    "i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "pos_mean", "neg_mean", "flip_rate",
)


def format_summary(result: EvaluationResult) -> str:
    """Markdown table of the main metrics, with the change against the first row."""
    rows = result.rows
    lines = ["| model | " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * (len(TABLE_COLUMNS) + 1)]
    for r in rows:
        lines.append(f"| {r.model} | " + " | ".join(f"{r.metric(c):.3f}" for c in TABLE_COLUMNS) + " |")
    for r in rows[1:]:
        lines.append(
            f"| Δ {r.model} vs {rows[0].model} | "
            + " | ".join(f"{r.metric(c) - rows[0].metric(c):+.3f}" for c in TABLE_COLUMNS) + " |"
        )
    return "\n".join(lines) + "\n"


def seen_shares(dataset: Dataset, tasks: Tasks, source: WorldSource) -> dict[str, float]:
    """The share of `dataset`'s captions, and of the negated texts of `tasks`' one-draw pairs (a presence pair's false
    text, an absence pair's true one), that fine-tuning on `source` can read word for word (`WorldSource.texts`).

    Args:
        dataset: the evaluated images.
        tasks: their evaluation tasks.
        source: the fine-tuning data.

    Returns:
        {"captions": share, "negations": share}.
    """
    captions = [c for r in dataset for c in r.captions]
    texts = source.texts(like=captions)
    negated = [f for n in tasks.negations for _, f in n.presence] + [t for n in tasks.negations for t, _ in n.absence]
    return {"captions": seen_share(captions, texts), "negations": seen_share(negated, texts)}


def run_evaluate(
    common: Common, cfg: EvaluateConfig, out: str | Path, models: list[str] | None = None, progress: bool = True,
    trained_forms: list[str] | tuple[str, ...] = TRAIN_FORMS, train_data: str | None = None, pool: int = 10000,
    labels: list[str] | None = None,
) -> EvaluationResult:
    """Evaluate every model (default: the common one) on the data's evaluation split (which no analysis stage and no
    fine-tuning reads), on tasks drawn once for all of them, each model after the first with every metric's paired
    change against it (`trained_forms`: the forms fine-tuning trained on); write evaluation.json, comparison.md and .csv.
    On world data fine-tuned on world data, accuracy on the held-out combinations is reported apart, and with
    `train_data` (its spec, read with `pool` scenes) the share of evaluated texts fine-tuning read word for word.
    `labels` names each model's role in the table; every row counts the weights that differ from the first model's
    (where the architectures match), the numbers a steering adds, and the seconds to encode 1,000 captions."""
    out = Path(out)
    dataset = common_dataset(common, cfg.limit, role="evaluation")
    world = world_count(common.data, 1) is not None and (train_data is None or world_count(train_data, 1) is not None)
    held = list(held_out_categories()) if world else []
    result = EvaluationResult(dataset.describe(), common.seed, len(dataset.skipped), [], list(trained_forms), held)
    tasks = evaluation_tasks(dataset, common.seed)
    if world and train_data is not None:
        result.seen_share = seen_shares(dataset, tasks, training_source(train_data, pool, forms=trained_forms))
        print(f"evaluate: {result.seen_share['captions']:.1%} of captions and {result.seen_share['negations']:.1%} of "
              f"negated texts occur word for word in the fine-tuning data")
    models = models or [common.model]
    labels = labels or [""] * len(models)
    if len(labels) != len(models):
        raise ValueError(f"got {len(labels)} labels for {len(models)} models; give one label per model or none")
    first, base = None, None
    captions = [c for r in dataset for c in r.captions]
    for spec, label in zip(models, labels):
        print(f"evaluate: {spec} on {dataset.describe()}")
        bundle = load_bundle(spec)
        row, values = scored(bundle, dataset, seed=common.seed, progress=progress,
                             cache=feature_cache(common, out), tasks=tasks, trained_forms=trained_forms, held_out=held)
        if first is None:
            first, base = values, bundle
        else:
            row.changes = paired_changes(first, values, seed=common.seed)
        row.label = label
        try:
            row.weights_changed = bundle.changed_weights(base)
        except ValueError:
            row.weights_changed = None
        row.steering_values = bundle.steering.values if bundle.steering is not None else 0
        row.seconds_per_1000_captions = bundle.seconds_per_1000_captions(captions)
        result.rows.append(row)
    result.save(out)
    write_text(out / "comparison.md", format_summary(result))
    write_csv(out / "comparison.csv", ["model", *TABLE_COLUMNS],
              ([r.model, *(f"{r.metric(c):.6f}" for c in TABLE_COLUMNS)] for r in result.rows))
    return result
