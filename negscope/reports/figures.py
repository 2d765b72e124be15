"""Figures for the similarity study (matplotlib `Figure` objects; no pyplot, no backend switch)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..data.negation import TEMPLATE_NAMES
from ..io import atomic_path
from ..results import RecipesResult, StudyResult
from ..results.localisation import LocalisationResult

TAB10 = matplotlib.colormaps["tab10"]
SITE_AXIS = "site (output of text block k)"
BLOCK_AXIS = "text block"


def save(fig: Figure, path: str | Path) -> Figure:
    """Save `fig` atomically as PNG at `path` and return it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return fig


def site_label(site: str) -> str:
    """A site as every figure and table of the report shows it: `embed`, then k for `text.block.k` (the output of block k)."""
    # plain string work on the name, so that drawing figures does not import torch through negscope.models
    return site.removeprefix("text.block.").removeprefix("text.")


def site_ticks(sites: list[str]) -> tuple[list[int], list[str]]:
    """x positions and tick labels for site names (`site_label`)."""
    return list(range(len(sites))), [site_label(s) for s in sites]


def fit_ylim(ax, values, floor: float | None = None, pad: float = 0.06) -> None:
    """Scale the y axis to `values` (every line, band and bar end drawn, reference lines included), with `pad` of the
    range as margin, so that nothing sits on the frame; `floor` bounds it below where the quantity is bounded."""
    v = np.asarray([x for x in np.ravel(np.asarray(values, dtype=float)) if np.isfinite(x)])
    lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
    margin = max(hi - lo, 1e-3) * pad
    lo, hi = lo - margin, hi + margin
    ax.set_ylim(lo if floor is None else max(floor, lo), hi)


def template_bars(result, path: str | Path, n_images: int = 4) -> Figure:
    """Bar chart of the seven template scores for the first caption of a few images."""
    firsts = [int(np.flatnonzero(result.pair_image == i)[0]) for i in range(min(n_images, len(result.image_ids)))]
    fig = Figure(figsize=(3.2 * len(firsts), 3.4))
    axes = fig.subplots(1, len(firsts), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], firsts):
        ax.bar(range(len(TEMPLATE_NAMES)), result.scores[p], color=TAB10(np.arange(len(TEMPLATE_NAMES))))
        ax.set_xticks(range(len(TEMPLATE_NAMES)), [f"T{j + 1}" for j in range(len(TEMPLATE_NAMES))])
        ax.set_title(_wrap(result.captions[p]), fontsize=8)
    axes[0][0].set_ylabel("cosine similarity S(I, T)")
    legend = "  ".join(f"T{j + 1}={n}" for j, n in enumerate(TEMPLATE_NAMES))
    fig.suptitle(f"{result.model}: seven templates per image", fontsize=9, y=1.08)
    fig.text(0.5, -0.04, legend, ha="center", fontsize=8)
    return save(fig, path)


def tsne_plot(result, path: str | Path, max_images: int = 150, seed: int = 0) -> Figure:
    """t-SNE of image, positive-caption and negated-caption embeddings (first caption per image)."""
    from sklearn.manifold import TSNE

    n = min(max_images, len(result.image_ids))
    firsts = [int(np.flatnonzero(result.pair_image == i)[0]) for i in range(n)]
    points = np.concatenate(
        [result.image_feats[:n].numpy(), result.pos_feats[firsts].numpy(), result.neg_feats[firsts].numpy()]
    )
    from threadpoolctl import threadpool_limits

    tsne = TSNE(n_components=2, perplexity=min(30, max(2, len(points) // 4)), random_state=seed, init="pca")
    with threadpool_limits(1):  # OpenMP threads of t-SNE on a busy machine cost 50x more than they save
        xy = tsne.fit_transform(points)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    for k, (label, marker) in enumerate([("image", "o"), ("caption", "^"), ("This is not + caption", "x")]):
        ax.scatter(*xy[k * n : (k + 1) * n].T, s=14, marker=marker, label=label, alpha=0.75)
    ax.legend(fontsize=8)
    ax.set_title(f"{result.model}: t-SNE of image and caption embeddings", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return save(fig, path)


def _wrap(text: str, width: int = 34) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def study_bars(result: StudyResult, path: str | Path) -> Figure:
    """Presence and absence accuracy after fine-tuning each block set (mean ± std over seeds), against the model before."""
    rows = result.rows
    x = np.arange(len(rows))
    fig = Figure(figsize=(1.3 * len(rows) + 2.5, 3.4))
    ax = fig.subplots()
    for k, (metric, label) in enumerate([("presence_accuracy", "presence"), ("absence_accuracy", "absence")]):
        ax.bar(x + (k - 0.5) * 0.38, [r.values[metric] for r in rows], width=0.38, label=label, color=TAB10(k),
               yerr=[r.std[metric] for r in rows], capsize=3, error_kw={"lw": 1})
        ax.axhline(result.baseline[metric], color=TAB10(k), ls="--", lw=1, label=f"{label} before")
    ax.set_xticks(x, [r.label.replace(" (", "\n(") for r in rows], fontsize=8)
    ax.set_ylabel("accuracy")
    metrics = ("presence_accuracy", "absence_accuracy")
    fit_ylim(ax, [0.0] + [r.values[m] + r.std[m] for r in rows for m in metrics] + [result.baseline[m] for m in metrics])
    ax.legend(fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.set_title(f"Fine-tuning different text blocks with the same budget (mean ± std over {len(result.seeds)} seeds)",
                 fontsize=9, pad=22)
    return save(fig, path)


def localisation_bars(result: LocalisationResult, path: str | Path) -> Figure:
    """Per block, the change of each measure's gain after fine-tuning (95% intervals over images); trained blocks shaded."""
    changes = [result.patching, result.erasure]
    x = np.arange(len(changes[0].change))
    fig = Figure(figsize=(0.45 * len(x) + 3, 3.2))
    ax = fig.subplots()
    for k in result.trained_blocks:
        ax.axvspan(k - 0.5, k + 0.5, color="0.92", lw=0)
    for j, (c, label) in enumerate(zip(changes, ("patching", "erasure"))):
        err = [np.subtract(c.change, c.ci_low), np.subtract(c.ci_high, c.change)]
        ax.bar(x + (j - 0.5) * 0.38, c.change, width=0.38, yerr=err, capsize=2, error_kw={"lw": 1}, color=TAB10(j),
               label=label)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, [str(k) for k in x])
    ax.set_xlabel("text block (shaded: fine-tuned)")
    ax.set_ylabel("gain after − before")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(f"{result.model}: where fine-tuning moved the negation signal ({result.images} analysis images)",
                 fontsize=9)
    return save(fig, path)


def training_curve(history: list[dict], path: str | Path, title: str = "fine-tuning") -> Figure:
    """Total loss per step (raw and a moving average) and every loss term's moving average."""
    steps = np.arange(1, len(history) + 1)
    fig = Figure(figsize=(6, 3.4))
    ax = fig.subplots()
    loss = np.array([h["loss"] for h in history])
    ax.plot(steps, loss, color="0.8", lw=0.8, label="loss")
    w = max(1, len(history) // 20)
    smooth = lambda v: np.convolve(v, np.ones(w) / w, mode="valid")
    ax.plot(steps[w - 1 :], smooth(loss), color="k", lw=1.5, label=f"loss ({w}-step mean)")
    terms = [k for k in ("presence", "absence", "absence_nce", "original_nce", "text_margin") if k in history[0]]
    for k in terms:
        ax.plot(steps[w - 1 :], smooth(np.array([h[k] for h in history])), lw=1, label=k)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def form_matrix(result: RecipesResult, path: str | Path) -> Figure:
    """Heatmap of trained recipe (rows, the model before first) × tested negation form: mean of presence and absence
    accuracy; a box marks each form the recipe trained on."""
    forms = list(result.baseline_forms)
    rows = [("before", [], result.baseline_forms)] + [(r.arm, r.trained_forms, r.forms) for r in result.rows]
    grid = np.array([[scores[f] for f in forms] for _, _, scores in rows])
    fig = Figure(figsize=(1.0 * len(forms) + 3, 0.45 * len(rows) + 1.6))
    ax = fig.subplots()
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for i, (_, trained, _) in enumerate(rows):
        for j, f in enumerate(forms):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="k" if grid[i, j] > 0.6 else "w")
            if f in trained:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="r", lw=1.5))
    ax.set_xticks(range(len(forms)), forms, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_xlabel("tested negation form")
    fig.colorbar(im, ax=ax, label="mean of presence and absence accuracy")
    ax.set_title(f"Trained × tested negation forms (mean over {len(result.seeds)} seeds; red box: trained on)", fontsize=9)
    return save(fig, path)


def validation_curve(validation: list[dict], chosen: int | None, path: str | Path) -> Figure:
    """Validation negation accuracy and R@1 both ways per step (step 0: before fine-tuning); the chosen step marked."""
    steps = [v["step"] for v in validation]
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    for k, (key, label) in enumerate([("negation", "negation accuracy (training forms)"), ("i2t_r1", "i2t R@1"),
                                      ("t2i_r1", "t2i R@1")]):
        ax.plot(steps, [v[key] for v in validation], marker="o", ms=3, color=TAB10(k), label=label)
        ax.axhline(validation[0][key], color=TAB10(k), ls=":", lw=0.8)
    if chosen is not None:
        ax.axvline(chosen, color="k", ls="--", lw=1, label=f"chosen: step {chosen}")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation score")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Checkpoint choice on the validation split (dotted: before fine-tuning)", fontsize=9)
    return save(fig, path)
