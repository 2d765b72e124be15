"""Figures for attribution, patching and block selection, and the HTML token heatmap."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..io import write_text
from ..results import CurvePoint, ErasureResult, HeadsResult, MeanCI, SelectionResult, SiteAttributions
from .figures import BLOCK_AXIS, SITE_AXIS, fit_ylim, save, site_ticks


def _errors(rows: list, key: str) -> np.ndarray:
    mid = np.array([getattr(r, key) for r in rows])
    return np.abs(np.stack([mid - [r.ci_low for r in rows], [r.ci_high for r in rows] - mid]))


def negation_share_bars(shares: dict[str, MeanCI], path: str | Path, title: str) -> Figure:
    """Bars of the share of token attribution on negation words, per template, with 95% intervals."""
    names = list(shares)
    rows = [shares[n] for n in names]
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    ax.bar(range(len(names)), [r.mean for r in rows], yerr=_errors(rows, "mean"), capsize=3, color="tab:red", alpha=0.8)
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("share of |attribution| on negation words")
    fit_ylim(ax, [0.0] + [r.ci_high for r in rows])
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def layer_attribution_plot(trained: SiteAttributions, untrained: SiteAttributions | None, path: str | Path, title: str) -> Figure:
    """Where the negation gap's attribution sits per site, and each block's importance, beside an untrained copy."""
    fig = Figure(figsize=(10, 3.6))
    a, b = fig.subplots(1, 2)
    idx, labels = site_ticks(trained.sites)
    a.plot(idx, [s.eos_share for s in trained.states], "o-", color="C0", label="on the EOS state")
    a.plot(idx, [s.changed_share for s in trained.states], "s-", color="C1", label="on the changed (negation) token")
    width = 0.8 if untrained is None else 0.4
    blocks = trained.blocks
    b.bar([r.block - (0 if untrained is None else 0.2) for r in blocks], [r.mean for r in blocks], width,
          yerr=_errors(blocks, "mean"), capsize=3, color="C0", label="trained")
    if untrained is not None:
        a.plot(idx, [s.eos_share for s in untrained.states], "o:", color="C0", alpha=0.6, label="EOS, untrained copy")
        a.plot(idx, [s.changed_share for s in untrained.states], "s:", color="C1", alpha=0.6, label="changed token, untrained copy")
        b.bar([r.block + 0.2 for r in untrained.blocks], [r.mean for r in untrained.blocks], width,
              yerr=_errors(untrained.blocks, "mean"), capsize=3, color="C7", label="untrained copy")
        b.legend(fontsize=8)
    a.set_xlabel(SITE_AXIS)
    a.set_ylabel("share of |attribution| of the gap")
    shares = [[s.eos_share, s.changed_share] for run in (trained, untrained) if run is not None for s in run.states]
    fit_ylim(a, [0.0, *np.ravel(shares)])
    a.set_xticks(idx, labels)
    a.legend(fontsize=7)
    b.axhline(0, color="black", lw=0.6)
    b.set_xticks([r.block for r in blocks])
    b.set_xlabel(BLOCK_AXIS)
    b.set_ylabel("importance (EOS share added)")
    fig.suptitle(title, fontsize=9)
    return save(fig, path)


def erasure_plot(result: ErasureResult, path: str | Path, title: str) -> Figure:
    """Per site, the share of the negation effect removed by LEACE erasure, by its two controls of the same rank and
    on the untrained copies (their mean, with each copy's share as a dot), with 95% bands over images."""
    fig = Figure(figsize=(7.5, 4))
    ax = fig.subplots()
    idx, labels = site_ticks(result.sites)
    p = result.points
    for key, color, style, name in (("leace", "C0", "o-", "LEACE"), ("random", "C2", "^--", "random direction"),
                                    ("shuffled", "C1", "s--", "LEACE on shuffled labels")):
        shares = [getattr(x, key) for x in p]
        ax.fill_between(idx, [s.ci_low for s in shares], [s.ci_high for s in shares], color=color, alpha=0.15)
        ax.plot(idx, [s.share for s in shares], style, color=color, label=name)
    ax.plot(idx, [x.untrained_mean for x in p], "o:", color="C7", label=f"untrained copies (mean of {len(result.untrained_seeds)})")
    for k in range(len(result.untrained_seeds)):
        ax.plot(idx, [x.untrained[k] for x in p], ".", color="C7", alpha=0.6)
    ax.axhline(0, color="black", lw=0.6)
    ax.axhline(1, color="grey", lw=0.6, ls="--")
    ax.set_xticks(idx, labels)
    ax.set_xlabel(SITE_AXIS)
    ax.set_ylabel("share of the negation effect removed")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return save(fig, path)


def patching_plot(curves: dict[str, dict[str, list[CurvePoint]]], path: str | Path, title: str,
                  untrained: dict[str, list[CurvePoint]] | None = None) -> Figure:
    """Share of the negation effect recreated by patching each site, per position set and direction (and untrained)."""
    fig = Figure(figsize=(7, 3.8))
    ax = fig.subplots()
    lines = [(f"{positions}, {direction}", rows, "o-" if direction == "forward" else "s--")
             for positions, directions in curves.items() for direction, rows in directions.items()]
    lines += [(f"eos, {direction}, untrained copy", rows, "o:" if direction == "forward" else "s:")
              for direction, rows in (untrained or {}).items()]
    for label, rows, style in lines:
        idx, labels = site_ticks([r.site for r in rows])
        line, = ax.plot(idx, [r.share for r in rows], style, label=label)
        ax.fill_between(idx, [r.ci_low for r in rows], [r.ci_high for r in rows], color=line.get_color(), alpha=0.15)
    ax.axhline(0, color="black", lw=0.6)
    ax.axhline(1, color="grey", lw=0.6, ls=":")
    ax.set_xticks(idx, labels)
    ax.set_xlabel(SITE_AXIS)
    ax.set_ylabel("share of the effect recreated")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def selection_plot(selection: SelectionResult, path: str | Path, title: str) -> Figure:
    """Per-block scores of each evidence kind, the combined score, and the chosen blocks."""
    ev = selection.evidence
    n = len(ev.combined)
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    width = 0.8 / max(len(ev.scores), 1)
    for j, (kind, s) in enumerate(ev.scores.items()):
        ax.bar(np.arange(n) + (j - (len(ev.scores) - 1) / 2) * width, s, width=width, label=kind, alpha=0.7)
    ax.plot(range(n), ev.combined, "k.-", label="combined")
    for k in selection.blocks:
        ax.axvspan(k - 0.5, k + 0.5, color="gold", alpha=0.2, lw=0)
    ax.set_xticks(range(n))
    ax.set_xlabel(BLOCK_AXIS)
    ax.set_ylabel("share of the block gains")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def token_heatmap_html(examples: list[dict], path: str | Path, title: str) -> Path:
    """A self-contained HTML page colouring each token by its attribution (red raises S(I,T), blue lowers it)."""
    rows = []
    for ex in examples:
        scale = max((abs(a) for a in ex["attributions"]), default=0.0) or 1.0
        cells = []
        for tok, a in zip(ex["tokens"], ex["attributions"]):
            alpha = min(abs(a) / scale, 1.0)
            colour = f"rgba(220,40,40,{alpha:.2f})" if a >= 0 else f"rgba(40,90,220,{alpha:.2f})"
            cells.append(f'<span class="t" style="background:{colour}" title="{a:+.4f}">{html.escape(tok)}</span>')
        rows.append(
            f"<tr><td>{html.escape(ex.get('template', ''))}</td><td>{''.join(cells)}</td>"
            f"<td>{ex['score']:.3f}</td><td>{ex['baseline_score']:.3f}</td><td>{ex['delta']:+.1e}</td>"
            f"<td>{ex['negation_share']:.2f}</td></tr>"
        )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;font-size:13px}} td{{padding:3px 8px;border-bottom:1px solid #ddd}}
.t{{padding:1px 3px;margin:1px;border-radius:3px;display:inline-block}}</style></head><body>
<h2>{html.escape(title)}</h2>
<p>Integrated gradients of S(I, T) on the token embeddings. Red tokens raise the similarity, blue lower it;
colour strength is relative to the example's largest token. Hover a token for its value. Baseline: BOS and EOS
kept, every other token PAD.</p>
<table><tr><th>template</th><th>tokens</th><th>S(I,T)</th><th>S(I,baseline)</th><th>delta</th><th>negation share</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    return write_text(path, page)


def heads_plot(result: HeadsResult, path: str | Path) -> Figure:
    """Per measure, a blocks × heads map of the model's value minus the untrained copies' mean; a dot marks each head
    whose 95% interval over images excludes 0."""
    names = list(result.maps)
    fig = Figure(figsize=(2.2 + 2.1 * len(names) * max(1.0, result.heads / 8), 0.9 + 0.32 * result.blocks))
    axes = np.atleast_1d(fig.subplots(1, len(names), sharey=True))
    for ax, name in zip(axes, names):
        m = result.maps[name]
        diff = np.asarray(m.difference, dtype=float)
        span = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
        image = ax.imshow(diff, cmap="RdBu_r", vmin=-span, vmax=span, aspect="auto")
        rows, cols = np.nonzero(m.certain)
        ax.scatter(cols, rows, s=9, c="black", marker="o", label="interval excludes 0")
        ax.set_xticks(range(result.heads))
        ax.set_xlabel("head", fontsize=8)
        ax.set_title(name.replace("_", " "), fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(image, ax=ax, fraction=0.08, pad=0.03).ax.tick_params(labelsize=6)
    axes[0].set_yticks(range(result.blocks))
    axes[0].set_ylabel(BLOCK_AXIS, fontsize=8)
    fig.suptitle(f"{result.model}: per head, model minus untrained copies ({result.n_pairs} {result.pairs} pairs; "
                 "dots: 95% interval over images excludes 0)", fontsize=9)
    return save(fig, path)
