"""Figures for the per-site probes: accuracy against site per task, and the divergence curve."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ..results import Divergence, SiteScore, TaskProbes
from .figures import SITE_AXIS, save, site_ticks


def _ticks(ax, rows: list[SiteScore] | list[Divergence]) -> None:
    ax.set_xticks(*site_ticks([r.site for r in rows]))
    ax.set_xlabel(SITE_AXIS)


def probe_figure(task: str, result: TaskProbes, path: str | Path, model: str = "") -> Figure:
    """Probe accuracy with its 95% band, control accuracy, chance and the two baselines, against site."""
    rows = result.sites
    x, _ = site_ticks([r.site for r in rows])
    fig = Figure(figsize=(7.6, 3.8))
    ax = fig.subplots()
    ax.fill_between(x, [r.ci_low for r in rows], [r.ci_high for r in rows], alpha=0.25, color="C0", label="95% CI")
    ax.plot(x, [r.accuracy for r in rows], "o-", color="C0", label="probe (EOS state)")
    ax.plot(x, [r.control_accuracy for r in rows], "s--", color="C1", label="control task")
    styles = {"embedding": ("C2", "-."), "bag_of_words": ("C3", ":")}
    for name, base in result.baselines.items():
        color, style = styles.get(name, ("C4", "-."))
        ax.axhline(base.accuracy, color=color, linestyle=style, label=f"{name.replace('_', ' ')} baseline")
    ax.axhline(result.chance, color="grey", linewidth=0.8, label="majority class")
    _ticks(ax, rows)
    ax.set_ylabel("held-out accuracy")
    lowest = min([0.4, result.chance - 0.1] + [r.control_accuracy - 0.05 for r in rows])
    ax.set_ylim(max(0.0, lowest), 1.01)
    ax.set_title(f"{model}: probe for '{task}' ({result.samples} captions, {result.groups} groups)", fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)


def divergence_figure(divergence: list[Divergence], path: str | Path, model: str = "") -> Figure:
    """Mean cosine between the EOS states of a caption and 'This is not' + caption, against site."""
    fig = Figure(figsize=(6.4, 3.4))
    ax = fig.subplots()
    ax.plot(site_ticks([r.site for r in divergence])[0], [r.mean_cosine for r in divergence], "o-", color="C0")
    _ticks(ax, divergence)
    ax.set_ylabel("mean cosine(caption, negation)")
    ax.set_title(f"{model}: how far negation moves the EOS state, per site", fontsize=9)
    return save(fig, path)
