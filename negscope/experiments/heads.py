"""`negscope heads`: per text block and attention head, patching, zero and mean ablation of the head's pooled output and
its attention to the negator, between positive and negated captions, on the model and on untrained copies of its
architecture, with intervals over images."""

from __future__ import annotations

from pathlib import Path

from ..attribution import head_maps, head_scores, negation_positions
from ..attribution import heads as heads_module
from ..data import negation_pairs
from ..io import write_csv
from ..reports.attribution_figures import heads_plot
from ..results import HEAD_MEASURES, CaptionPair, HeadsResult
from .analysis import Analysis
from .config import Common, HeadsConfig


def run_heads(common: Common, cfg: HeadsConfig, out: str | Path, progress: bool = True) -> HeadsResult:
    """Measure every head of the model and of each untrained copy on the same pairs; write heads.json, heads.csv and
    heads.png.

    Args:
        common: the shared settings (model, data, seed, untrained copies, resamples).
        cfg: the pairs, how many and the batch size.
        out: the output folder.
        progress: show progress bars.

    Returns:
        The `HeadsResult`.
    """
    ctx = Analysis.open(common, out)
    out = Path(out)
    bundle, dataset = ctx.bundle, ctx.dataset(cfg.limit)
    rows, pos, neg = negation_pairs(dataset, cfg.pairs, common.seed)
    negator, scope_end = negation_positions(bundle, neg, [dataset[i].present for i in rows])

    def scores(model):
        feats = ctx.image_features(model, dataset)[rows]
        return head_scores(model, pos, neg, feats, negator, scope_end, cfg.batch_size, progress=progress)

    images = [dataset[i].image_id for i in rows]
    trained = scores(bundle)
    maps = head_maps(trained, [scores(ctx.copy(s)) for s in ctx.copy_seeds], images, common.evidence_resamples,
                     common.seed)
    result = HeadsResult(
        model=common.model,
        data=dataset.describe(),
        pairs=cfg.pairs,
        seed=common.seed,
        n_pairs=len(rows),
        images=len(set(images)),
        blocks=len(bundle.text_layers),
        heads=bundle.heads,
        untrained_seeds=ctx.copy_seeds,
        method=heads_module.__doc__.strip(),
        maps=maps,
        captions=[CaptionPair(dataset[i].image_id, a, b) for i, a, b in zip(rows, pos, neg)],
        seconds=ctx.seconds(),
    )
    result.save(out)
    write_csv(out / "heads.csv", ["measure", "block", "head", "model", "untrained", "difference", "ci_low", "ci_high"],
              [[name, b, h, m.model[b][h], m.untrained[b][h], m.difference[b][h], m.ci_low[b][h], m.ci_high[b][h]]
               for name, m in maps.items() for b in range(result.blocks) for h in range(result.heads)])
    heads_plot(result, out / "heads.png")
    return result


def format_summary(result: HeadsResult) -> str:
    """Per measure, the heads whose difference from the untrained copies has an interval above 0, largest first."""
    lines = [(f"{result.n_pairs} {result.pairs} pairs, {result.blocks} blocks × {result.heads} heads, against "
              f"{len(result.untrained_seeds)} untrained copies")]
    for name in HEAD_MEASURES:
        above = [t for t in result.top(name, result.blocks * result.heads) if t.ci_low > 0]
        shown = ", ".join(f"{t.block}.{t.head} ({t.difference:+.3f})" for t in above[:5]) or "none"
        lines.append(f"{name}: heads above the untrained copies: {shown}" + (f" and {len(above) - 5} more" if len(above) > 5 else ""))
    return "\n".join(lines)
