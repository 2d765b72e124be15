"""`negscope attribute`: token attribution over the seven templates, and per-site attribution of the negation gap."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..attribution import aligned_pairs, layer_attributions, mean_with_ci, mean_within_noise, token_attributions
from ..attribution import layers as layers_module
from ..attribution import tokens as tokens_module
from ..data import Dataset, negation_pairs
from ..data.negation import TEMPLATE_NAMES
from ..evaluation.features import image_features
from ..evaluation.similarity import study_texts
from ..models import ClipBundle, load_bundle
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
from .common import common_dataset, feature_cache
from .config import AttributionConfig, Common

NO_PRESENCE = "image gives no presence negation"
UNEQUAL_LENGTH = "negated caption of another token length"


def run_attribution(common: Common, cfg: AttributionConfig, out: str | Path, progress: bool = True) -> AttributionResult:
    """Write attribution.json, its figures and the token heatmap for the model on the first `cfg.limit` images."""
    start = time.time()
    out = Path(out)
    seed, model = common.seed, common.model
    torch.manual_seed(seed)
    bundle = load_bundle(model)
    dataset = common_dataset(common, cfg.limit, role="analysis")
    cache = feature_cache(common, out)
    pairs, image_feats = study_texts(dataset, seed), image_features(bundle, dataset, cache=cache)
    firsts = [pairs.pair_image.index(i) for i in range(len(dataset))]
    texts = [pairs.texts[p][t] for p in firsts for t in TEMPLATE_NAMES]
    feats = image_feats[np.repeat(np.arange(len(dataset)), len(TEMPLATE_NAMES))]
    attrs = token_attributions(bundle, texts, feats, steps=cfg.steps, progress=progress)
    records = [
        {"image_id": dataset[k // len(TEMPLATE_NAMES)].image_id, "template": TEMPLATE_NAMES[k % len(TEMPLATE_NAMES)], **a.to_dict()}
        for k, a in enumerate(attrs)
    ]
    shares = per_template(records, lambda r: r["negation_share"], seed)

    rows, pos, neg, dropped = presence_pairs(bundle, dataset, seed)
    sites = site_attributions(bundle, dataset, rows, pos, neg, image_feats[rows], cfg, seed, dropped, progress)
    copy = bundle.untrained_copy(seed)
    untrained = site_attributions(copy, dataset, rows, pos, neg, image_features(copy, dataset, cache=cache)[rows], cfg,
                                  seed, dropped, progress)
    result = AttributionResult(
        model=model,
        data=common.data,
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
            baseline_gap=per_template(records, lambda r: r["score"] - r["baseline_score"], seed),
        ),
        sites=sites,
        untrained=untrained,
        seconds=round(time.time() - start, 1),
    )
    result.save(out)
    negation_share_bars(shares, out / "token_negation_share.png", f"{model}: token IG, share on negation words ({len(dataset)} captions per template)")
    layer_attribution_plot(sites, untrained, out / "layer_attribution.png", f"{model}: per-site IG of S(neg) - S(pos), {len(rows)} presence pairs")
    token_heatmap_html(records[: cfg.examples * len(TEMPLATE_NAMES)], out / "token_heatmap.html", f"{model}: token attributions")
    return result


def per_template(records: list[dict], value: Callable[[dict], float], seed: int) -> dict[str, MeanCI]:
    """Per template, the mean of `value(record)` over its texts with the bootstrap interval."""
    return {t: MeanCI(**mean_with_ci(np.array([value(r) for r in records if r["template"] == t]), seed=seed))
            for t in TEMPLATE_NAMES}


def presence_pairs(bundle: ClipBundle, dataset: Dataset, seed: int) -> tuple[list[int], list[str], list[str], dict[str, int]]:
    """The (row, positive, negated) presence pair of every image whose two captions have the same token length, and
    the images without one, counted by reason."""
    rows, pos, neg = negation_pairs(dataset, "presence", seed)
    kept = aligned_pairs(bundle, rows, pos, neg)
    dropped = {NO_PRESENCE: len(dataset) - len(rows), UNEQUAL_LENGTH: len(rows) - len(kept[0])}
    return *kept, {why: n for why, n in dropped.items() if n}


def site_attributions(
    bundle: ClipBundle, dataset: Dataset, rows: list[int], pos: list[str], neg: list[str], image_feats: torch.Tensor,
    cfg: AttributionConfig, seed: int, dropped: dict[str, int], progress: bool = False,
) -> SiteAttributions:
    """Per-site integrated gradients of S(I, negated) - S(I, positive) on the aligned presence pairs, with the pairs
    `dropped` by reason and whether the mean gap is within noise (`mean_within_noise`)."""
    la = layer_attributions(bundle, pos, neg, image_feats, steps=cfg.steps, progress=progress)
    gap, noise = mean_within_noise(la.gap, seed=seed)
    states = [
        SiteAttribution(n, float(la.eos_share[:, j].mean()), float(la.changed_share[:, j].mean()), float(la.total[:, j].mean()),
                        float(np.abs(la.delta[:, j]).mean()), float(np.abs(la.delta[:, j]).max()))
        for j, n in enumerate(la.sites)
    ]
    blocks = [BlockImportance(b.index, b.name, **mean_with_ci(la.importance[:, j], seed=seed)) for j, b in enumerate(bundle.blocks)]
    return SiteAttributions(
        method=layers_module.__doc__.strip(), pairs="presence", n_pairs=len(rows), sites=la.sites, mean_gap=float(la.gap.mean()),
        states=states, blocks=blocks, captions=[CaptionPair(dataset[i].image_id, a, b) for i, a, b in zip(rows, pos, neg)],
        per_pair=PerPair(la.gap.tolist(), la.eos_share.tolist(), la.changed_share.tolist(), la.delta.tolist()),
        requested=len(rows) + sum(dropped.values()), dropped=dropped, gap_ci=[gap["ci_low"], gap["ci_high"]],
        gap_within_noise=noise,
    )


def format_summary(result: AttributionResult) -> str:
    """The token share on negation words per template, each block's importance, and a line per caveat
    (`AttributionResult.caveats`)."""
    shares = ", ".join(f"{t} {v.mean:.2f}" for t, v in result.tokens.negation_share.items())
    blocks = " ".join(f"{b.block}:{b.mean:+.2f}" for b in result.sites.blocks)
    lines = [f"token attribution share on negation words: {shares}", f"block importance: {blocks}"]
    return "\n".join(lines + [f"caveat: {note}" for note in result.caveats()])
