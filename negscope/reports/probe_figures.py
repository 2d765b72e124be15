"""Figures for the per-site probes: accuracy against site per task, and the divergence curve."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ..results import Divergence, SiteScore, TaskProbes
from .figures import SITE_AXIS, fit_ylim, save, site_ticks


def _ticks(ax, rows: list[SiteScore] | list[Divergence]) -> None:
    ax.set_xticks(*site_ticks([r.site for r in rows]))
    ax.set_xlabel(SITE_AXIS)


def probe_figure(task: str, result: TaskProbes, path: str | Path, model: str = "") -> Figure:
    """Probe accuracy against site, trained and untrained (95% bands), at the pooled position and at the object's
    token where probed, beside the control task, chance and the baselines."""
    rows = result.sites
    x, _ = site_ticks([r.site for r in rows])
    fig = Figure(figsize=(8.2, 4.0))
    ax = fig.subplots()
    curves = [("pooled position", result, "o", "-")]
    if result.at_object is not None:
        curves.append(("object's token", result.at_object, "^", (0, (4, 1))))
    for k, (where, sweep, marker, style) in enumerate(curves):
        trained, untrained = f"C{2 * k}", f"C{2 * k + 1}"
        r = sweep.sites
        ax.fill_between(x, [s.ci_low for s in r], [s.ci_high for s in r], alpha=0.2, color=trained)
        ax.plot(x, [s.accuracy for s in r], marker=marker, linestyle=style, color=trained, label=f"trained, {where}")
        if r[0].untrained_accuracy is not None:
            ax.fill_between(x, [s.untrained_ci_low for s in r], [s.untrained_ci_high for s in r], alpha=0.15, color=untrained)
            ax.plot(x, [s.untrained_accuracy for s in r], marker=marker, linestyle=":", color=untrained,
                    label=f"untrained copies (mean), {where}")
    ax.plot(x, [r.control_accuracy for r in rows], "s--", color="grey", label="control task (pooled)")
    for k, (name, base) in enumerate(result.baselines.items()):
        ax.axhline(base.accuracy, color=f"C{4 + k}", linestyle="-.", linewidth=1, label=f"{name.replace('_', ' ')}")
    prefix = result.at_object.baselines if result.at_object is not None else {}
    if prefix:  # the strongest baseline of the text the object's token sees
        name, base = max(prefix.items(), key=lambda kv: kv[1].accuracy)
        ax.axhline(base.accuracy, color="C9", linestyle=":", linewidth=1.2, label=f"{name.replace('_', ' ')}, up to the object")
    ax.axhline(result.chance, color="black", linewidth=0.6, label="majority class")
    _ticks(ax, rows)
    ax.set_ylabel("held-out accuracy")
    drawn = [[s.ci_low, s.ci_high, s.untrained_ci_low, s.untrained_ci_high] for _, sw, _, _ in curves for s in sw.sites]
    fit_ylim(ax, [result.chance, *[r.control_accuracy for r in rows], *[b.accuracy for b in result.baselines.values()],
                  *[b.accuracy for b in prefix.values()],
                  *[v for row in drawn for v in row if v is not None]], floor=0.0)
    seeds = f", {len(result.seeds)} seeds" if len(result.seeds) > 1 else ""
    ax.set_title(f"{model}: probe for '{task}' ({result.samples} captions, {result.groups} groups{seeds})", fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)


def divergence_figure(divergence: list[Divergence], path: str | Path, model: str = "") -> Figure:
    """Mean cosine between the EOS states of a caption and 'This is not' + caption, against site."""
    fig = Figure(figsize=(6.4, 3.4))
    ax = fig.subplots()
    x = site_ticks([r.site for r in divergence])[0]
    ax.plot(x, [r.mean_cosine for r in divergence], "o-", color="C0", label="trained")
    if divergence[0].untrained_cosine is not None:
        ax.plot(x, [r.untrained_cosine for r in divergence], "o:", color="C1", label="untrained copy")
        ax.legend(fontsize=7)
    _ticks(ax, divergence)
    ax.set_ylabel("mean cosine(caption, negation)")
    ax.set_title(f"{model}: how far negation moves the EOS state, per site", fontsize=9)
    return save(fig, path)
