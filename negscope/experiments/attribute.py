"""`negscope attribute`: token attribution over the seven templates, and per-site attribution of the negation gap on the
model and on untrained copies of its architecture, with the per-block evidence (gain over the copies, intervals over
images)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..attribution import LayerAttribution, aligned_pairs, layer_attributions, token_attributions
from ..attribution import layers as layers_module
from ..attribution import tokens as tokens_module
from ..data import Dataset, negation_pairs
from ..data.negation import TEMPLATE_NAMES
from ..evaluation.similarity import study_texts
from ..models import ClipBundle
from ..reports.attribution_figures import (
    layer_attribution_plot,
    negation_share_bars,
    token_heatmap_html,
)
from ..results import (
    AttributionResult,
    BlockImportance,
    CaptionPair,
    MeanCI,
    PerPair,
    SiteAttribution,
    SiteAttributions,
    TokenAttributions,
)
from ..results.evidence import BlockEvidence
from ..stats import mean_interval
from .analysis import Analysis
from .common import evidence_line
from .config import AttributionConfig, Common

NO_PRESENCE = "image gives no presence negation"
UNEQUAL_LENGTH = "negated caption of another token length"
WITHIN_ERROR = "gap no larger than its integrated-gradients completeness error"
NOISE = ("A pair whose gap |S(I, negated) − S(I, positive)| is no larger than its largest completeness error over the "
         "sites is dropped, in the model and in each untrained copy (counted in `dropped`): its shares would apportion "
         "integration error. A block's importance is evidence only where its gain over the untrained copies' mean has "
         "a 95% interval over images that excludes 0 (`evidence.certain`); the signed mean gap's interval (`gap_ci`) "
         "is descriptive and decides nothing.")


def run_attribution(common: Common, cfg: AttributionConfig, out: str | Path, progress: bool = True) -> AttributionResult:
    """Write attribution.json, its figures and the token heatmap for the model on the first `cfg.limit` images."""
    ctx = Analysis.open(common, out)
    out = Path(out)
    seed, model = common.seed, common.model
    bundle, dataset = ctx.bundle, ctx.dataset(cfg.limit)
    pairs, image_feats = study_texts(dataset, seed), ctx.image_features(bundle, dataset)
    firsts = [pairs.pair_image.index(i) for i in range(len(dataset))]
    texts = [pairs.texts[p][t] for p in firsts for t in TEMPLATE_NAMES]
    feats = image_feats[np.repeat(np.arange(len(dataset)), len(TEMPLATE_NAMES))]
    attrs = token_attributions(bundle, texts, feats, steps=cfg.steps, progress=progress)
    records = [
        {"image_id": dataset[k // len(TEMPLATE_NAMES)].image_id, "template": TEMPLATE_NAMES[k % len(TEMPLATE_NAMES)], **a.to_dict()}
        for k, a in enumerate(attrs)
    ]
    shares = per_template(records, lambda r: r["negation_share"], common)

    rows, pos, neg, dropped = presence_pairs(bundle, dataset, seed)
    images = [dataset[i].image_id for i in rows]
    runs = [layer_attributions(bundle, pos, neg, image_feats[rows], steps=cfg.steps, progress=progress)]
    for copy in map(ctx.copy, ctx.copy_seeds):
        runs.append(layer_attributions(copy, pos, neg, ctx.image_features(copy, dataset)[rows], steps=cfg.steps,
                                       progress=progress))
    labels = [model, *(f"its untrained copy {s}" for s in common.untrained_seeds)]
    sites, *untrained = (site_attributions(bundle, dataset, rows, pos, neg, la, common, dropped, label)
                         for la, label in zip(runs, labels))
    result = AttributionResult(
        model=model,
        data=dataset.describe(),
        seed=seed,
        steps=cfg.steps,
        tokens=TokenAttributions(
            method=tokens_module.__doc__.strip(),
            n_texts=len(records),
            negation_words=sorted(tokens_module.NEGATION_WORDS),
            negation_share=shares,
            mean_abs_delta=float(np.mean([abs(r["delta"]) for r in records])),
            max_abs_delta=float(np.max([abs(r["delta"]) for r in records])),
            attributions=records,
            baseline_gap=per_template(records, lambda r: r["score"] - r["baseline_score"], common),
        ),
        sites=sites,
        untrained=untrained,
        evidence=attribution_evidence(runs, images, common),
        noise=NOISE,
        seconds=ctx.seconds(),
    )
    result.save(out)
    negation_share_bars(shares, out / "token_negation_share.png", f"{model}: token IG, share on negation words ({len(dataset)} captions per template)")
    layer_attribution_plot(sites, untrained[0], out / "layer_attribution.png", f"{model}: per-site IG of S(neg) - S(pos), {sites.n_pairs} presence pairs (untrained copy: seed {result.evidence.untrained_seeds[0]})")
    token_heatmap_html(records[: cfg.examples * len(TEMPLATE_NAMES)], out / "token_heatmap.html", f"{model}: token attributions")
    return result


def per_template(records: list[dict], value: Callable[[dict], float], common: Common) -> dict[str, MeanCI]:
    """Per template, the mean of `value(record)` over its texts with its 95% interval over images."""
    out = {}
    for t in TEMPLATE_NAMES:
        mine = [r for r in records if r["template"] == t]
        values = np.array([value(r) for r in mine])
        low, high = mean_interval(values, [r["image_id"] for r in mine], common.evidence_resamples, common.seed)
        out[t] = MeanCI(float(values.mean()), low, high, len(values))
    return out


def presence_pairs(bundle: ClipBundle, dataset: Dataset, seed: int) -> tuple[list[int], list[str], list[str], dict[str, int]]:
    """The (row, positive, negated) presence pair of every image whose two captions have the same token length, and
    the images without one, counted by reason."""
    rows, pos, neg = negation_pairs(dataset, "presence", seed)
    kept = aligned_pairs(bundle, rows, pos, neg)
    dropped = {NO_PRESENCE: len(dataset) - len(rows), UNEQUAL_LENGTH: len(rows) - len(kept[0])}
    return *kept, {why: n for why, n in dropped.items() if n}


def _kept_mean(values: np.ndarray, kept: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The mean over the kept pairs among `rows` (with repeats), per column; NaN when none is kept."""
    mask = kept[rows]
    return values[rows][mask].mean(0) if mask.any() else np.full(values.shape[1:], np.nan)


def attribution_evidence(runs: list[LayerAttribution], images: list, common: Common) -> BlockEvidence:
    """Per block, the share of the gap's attribution the block moves onto EOS (mean over each model's kept pairs) in
    the model (`runs[0]`) over the untrained copies' mean (`runs[1:]`, seeds `common.untrained_seeds`), every model
    resampled on the same images."""
    def curves(rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        model, *copies = (_kept_mean(la.eos_share, la.resolved, rows) for la in runs)
        return model, copies

    return BlockEvidence.measure_curves("share of the negation gap's attribution a block moves onto the EOS state",
                                        runs[0].sites, curves, images, common.untrained_seeds,
                                        common.evidence_resamples, common.seed)


def site_attributions(
    bundle: ClipBundle, dataset: Dataset, rows: list[int], pos: list[str], neg: list[str], la: LayerAttribution,
    common: Common, dropped: dict[str, int], label: str,
) -> SiteAttributions:
    """One model's per-site integrated gradients of S(I, negated) - S(I, positive) on the aligned presence pairs:
    means over the pairs it keeps (`LayerAttribution.resolved`), intervals over images, the pairs `dropped` by reason
(`label` names the model in the error when it keeps none)."""
    kept = la.resolved
    if not kept.any():
        raise ValueError(f"every pair's negation gap is within the integrated-gradients error of {label}; raise "
                         "attribution steps or limit")
    images = np.array([dataset[i].image_id for i in rows])

    def mean_ci(values: np.ndarray) -> dict[str, float]:
        low, high = mean_interval(values[kept], images[kept], common.evidence_resamples, common.seed)
        return {"mean": float(values[kept].mean()), "ci_low": low, "ci_high": high, "n": int(kept.sum())}

    states = [
        SiteAttribution(n, float(la.eos_share[kept, j].mean()), float(la.changed_share[kept, j].mean()),
                        float(la.total[kept, j].mean()), float(np.abs(la.delta[kept, j]).mean()),
                        float(np.abs(la.delta[kept, j]).max()))
        for j, n in enumerate(la.sites)
    ]
    blocks = [BlockImportance(b.index, b.name, **mean_ci(la.importance[:, j])) for j, b in enumerate(bundle.blocks)]
    gap_ci = mean_interval(la.gap, images, common.evidence_resamples, common.seed)
    lost = {**dropped, WITHIN_ERROR: int((~kept).sum())}
    return SiteAttributions(
        method=layers_module.__doc__.strip(), pairs="presence", n_pairs=int(kept.sum()), sites=la.sites,
        mean_gap=float(la.gap.mean()), states=states, blocks=blocks,
        captions=[CaptionPair(dataset[i].image_id, a, b) for i, a, b in zip(rows, pos, neg)],
        per_pair=PerPair(la.gap.tolist(), la.eos_share.tolist(), la.changed_share.tolist(), la.delta.tolist(), kept.tolist()),
        requested=len(rows) + sum(dropped.values()), dropped={why: n for why, n in lost.items() if n}, gap_ci=list(gap_ci),
    )


def format_summary(result: AttributionResult) -> str:
    """The token share on negation words per template, each block's importance, and a line per caveat
    (`AttributionResult.caveats`)."""
    shares = ", ".join(f"{t} {v.mean:.2f}" for t, v in result.tokens.negation_share.items())
    blocks = " ".join(f"{b.block}:{b.mean:+.2f}" for b in result.sites.blocks)
    lines = [f"token attribution share on negation words: {shares}", f"block importance: {blocks}",
             evidence_line(result.evidence)]
    return "\n".join(lines + [f"caveat: {note}" for note in result.caveats()])
