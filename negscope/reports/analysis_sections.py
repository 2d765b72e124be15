"""The report's sections on the analysis stages: the negated captions, seed Table 1, probes, attribution, patching,
erasure, attention heads and the block selection."""

from __future__ import annotations

import numpy as np

from ..results.evidence import BlockEvidence
from ..results.selection import DEFAULT_RULE, DEFAULT_RULE_BASIS
from .document import Doc, StageOutput, caption_from_name, ci_cell, fmt, open_section, pct, with_ci
from .figures import site_label


def negations(doc: Doc, out: StageOutput) -> None:
    """The negated captions the stages read: how many, the captions skipped and why, and a sample."""
    res = open_section(doc, "The negated captions every stage reads", out)
    if res is None:
        return
    skipped = "; ".join(f"{reason}: {n} ({pct(n / res.captions)})" for reason, n in res.skipped_captions.items())
    source = ("the negations the data file brings" if res.given else
              "the rule builders (\"no\" in the object's determiner slot; \", with no X\" for an absent X)")
    doc.para(
        f"{res.captions} captions of {res.images} images of `{res.data}` are negated by {source}; "
        f"{res.skipped_images} missing or unreadable images were skipped. "
        + (f"{res.questions} multiple-choice questions come with the data. " if res.questions else "")
        + (f"Captions that give no presence negation: {skipped}. " if skipped else "Every caption gives a presence negation. ")
        + (f"{res.unmentioned_pairs} of {res.object_pairs} (caption, annotated object) pairs do not mention the "
           "object, which is then never negated in that caption. " if res.object_pairs else "")
        + f"{len(res.samples)} captions drawn at random (seed {res.seed}), with the negations the stages use:"
    )
    doc.table(["caption", "object", "presence (false)", "absent", "absence (true)"],
              [[r.caption, r.object, r.presence, r.absent, r.absence] for r in res.samples])


def seed_study(doc: Doc, out: StageOutput) -> None:
    """Seed Table 1, the seven-template means, the template chart and the t-SNE."""
    sim = open_section(doc, "Do negated captions score like true ones? (seed Table 1)", out)
    if sim is None:
        return
    rows, folder = sim.rows, out.folder
    for r in rows:
        doc.para(
            f"For `{r.model}`, \"This is not ⟨caption⟩\" scores at least as high as the caption itself in "
            f"{r.flips} of {r.pairs} image–caption pairs ({pct(r.flip_rate)}). The mean similarity moves "
            f"only from {r.pos_mean:.3f} to {r.neg_mean:.3f} when the caption is negated."
        )
    doc.table(
        ["model", "pairs", "S(I, c): mean ± std", "S(I, not c): mean ± std", "flips", "flip rate"],
        [[r.model, r.pairs, f"{r.pos_mean:.4f} ± {r.pos_std:.4f}", f"{r.neg_mean:.4f} ± {r.neg_std:.4f}",
          r.flips, pct(r.flip_rate)] for r in rows],
    )
    names = list(rows[0].templates) if rows else []
    doc.para("Mean similarity of each image to its caption under the seven templates (seed report, Algorithm 2):")
    doc.table(["model", *names], [[r.model, *(r.templates[n] for n in names)] for r in rows])
    doc.figures(folder, "templates_*.png", lambda p: f"The seven templates scored against a few images ({p.stem[10:]}).")
    doc.figures(folder, "tsne_*.png", lambda p: f"t-SNE of image, caption and negated-caption embeddings ({p.stem[5:]}).")
    doc.figures(folder, "*.png", caption_from_name)


def _grid(grid: list[float] | None) -> str:
    return f"C = {min(grid):g} … {max(grid):g}, " if grid else "a grid of C, "


def probes(doc: Doc, out: StageOutput) -> None:
    """Per-site probe accuracy with confidence intervals, controls, baselines at every reading, the block evidence
    and the divergence curve."""
    res = open_section(doc, "Where is negation decodable? (linear probes)", out)
    if res is None:
        return
    folder = out.folder
    copies = res.settings.get("untrained_copies", 1)
    doc.para(
        f"Linear probes (L2 logistic regression, its strength chosen by an inner grouped search over "
        f"{_grid(res.settings.get('C_grid'))}"
        f"grouped cross-validation so that a caption and its rewrites never fall on both sides of a split) read the "
        f"pooled state at each site of `{res.model}` on {res.images} images. Each is repeated on {copies} untrained "
        f"copies of the architecture (same tokenizer and data; their mean, spread and each site's gain over them with a "
        f"paired interval over images) and on a control task that gives one random label to each recurring unit "
        f"(named per task), so a probe that memorises the unit can learn it. Selectivity is accuracy minus the larger "
        f"of control and untrained. The surface baselines read only the tokens (at the object's token, only the text "
        f"up to it): where one scores at least as high as the probe at every site, that reading is uninformative. "
        f"Intervals resample images."
        + (f" {res.unconverged} solves stopped at the iteration cap (counted per site in the table)." if res.unconverged else "")
    )
    for task, t in res.tasks.items():
        best = max(t.sites, key=lambda r: r.selectivity)
        bases = "; ".join(f"{name.replace('_', ' ')} {b.accuracy:.3f}" for name, b in t.baselines.items())
        seeds = f" Means over seeds {t.seeds}." if len(t.seeds) > 1 else ""
        unit = f"; control unit: {t.control_unit}" if t.control_unit else ""
        doc.para(
            f"Task `{task}` ({' vs '.join(t.classes)}; {t.samples} captions in {t.groups} groups from {t.images} images, "
            f"chance {fmt(t.chance)}{unit}): selectivity peaks at site {site_label(best.site)} ({best.selectivity:+.3f}): "
            f"accuracy {best.accuracy:.3f} (95% CI {best.ci_low:.3f}–{best.ci_high:.3f}), untrained copies "
            f"{fmt(best.untrained_accuracy)} ± {fmt(best.untrained_std)}, control {best.control_accuracy:.3f}. "
            f"Baselines: {bases}.{seeds}"
        )
        sweeps = [("pooled", t)] + ([("object token", t.at_object)] if t.at_object is not None else [])
        for where, sw in sweeps:
            if (reason := t.uninformative(sw)) is not None:
                doc.para(f"**Uninformative at the {where} state:** {reason.removeprefix('uninformative: ')}, so this "
                         f"curve cannot say where the model represents `{task}`"
                         + ("; the block evidence leaves it out." if where == "pooled" else "."))
        gain = [f"{r.untrained_gain:+.3f} [{r.gain_ci_low:+.3f}, {r.gain_ci_high:+.3f}]" if r.gain_ci_low is not None
                else r.untrained_gain for _, sw in sweeps for r in sw.sites]
        doc.table(
            ["position", "site", "accuracy", "± std", "95% CI", "untrained", "control", "gain over untrained [95% CI]",
             "selectivity", "C", "C at grid edge", "unconverged"],
            [[where, site_label(r.site), r.accuracy, r.accuracy_std, ci_cell(r), r.untrained_accuracy, r.control_accuracy,
              g, r.selectivity, r.C, r.C_at_edge, r.unconverged]
             for (where, r), g in zip(((w, r) for w, sw in sweeps for r in sw.sites), gain)]
            + [[where, f"baseline: {name.replace('_', ' ')} ({b.features})", b.accuracy, b.std, ci_cell(b), None, None,
                None, None, None, None, None] for where, sw in sweeps for name, b in sw.baselines.items()],
        )
        doc.figures(folder, f"probe_{task}.png", lambda p, task=task: (
            f"Probe accuracy for `{task}` per site, trained and untrained, with 95% bands, the control task and the baselines."))
    if (ev := res.evidence) is not None:
        doc.para(f"Block evidence: the rise of {ev.measure} across each block, over the untrained copies (seeds "
                 f"{ev.untrained_seeds}), with a 95% interval from {len(ev.draws)} resamples of {ev.images} images.")
        doc.table(["block", "gain over untrained", "95% CI", "trained", "untrained (mean ± spread)"],
                  [[k, g, f"[{lo:+.3f}, {hi:+.3f}]", tr, f"{um:+.3f} ± {us:.3f}"] for k, (g, lo, hi, tr, um, us) in enumerate(
                      zip(ev.gain, ev.ci_low, ev.ci_high, ev.trained, ev.untrained_mean, ev.untrained_spread))])
    for task, reason in res.excluded.items():
        doc.para(f"Left out of the block evidence: `{task}`, {reason}.")
    if res.divergence:
        doc.para("Mean cosine between the EOS states of a caption and its \"This is not\" negation, per site (lower means the site separates them more):")
        doc.table(["site", "mean cosine", "untrained copy"], [[site_label(r.site), r.mean_cosine, r.untrained_cosine] for r in res.divergence])
    doc.figures(folder, "divergence.png", lambda p: "Caption–negation cosine per site.")
    doc.figures(folder, "*.png", lambda p: f"Probes: {caption_from_name(p)}.")


def attribution(doc: Doc, out: StageOutput) -> None:
    """Token attribution (share on negation words, heatmap) and per-site attribution."""
    res = open_section(doc, "Which tokens and sites carry the negation? (attribution)", out)
    if res is None:
        return
    folder, tok, lay = out.folder, res.tokens, res.sites
    doc.para(
        f"Integrated gradients ({res.steps} steps) of S(I, T) on the token embeddings of `{res.model}`, over "
        f"{tok.n_texts} captions (the seven templates per image). Completeness holds to a mean |delta| of "
        f"{tok.mean_abs_delta:.2e} (max {tok.max_abs_delta:.2e}). Share of the attribution on negation words "
        f"({', '.join(tok.negation_words)}), by template:"
    )
    doc.table(["template", "mean share", "95% CI", "captions"],
              [[t, v.mean, ci_cell(v), v.n] for t, v in tok.negation_share.items()])
    doc.figures(folder, "token_negation_share.png", lambda p: "Share of token attribution on negation words, per template.")
    heatmap = folder / "token_heatmap.html"
    if heatmap.is_file():
        doc.embed(heatmap, "Token attribution heatmap: red tokens raise S(I, T), blue tokens lower it.")
    gap = f"{lay.mean_gap:+.4f} [{lay.gap_ci[0]:+.4f}, {lay.gap_ci[1]:+.4f}]"
    caveats = "".join(f" **{note}**" for note in res.caveats())
    doc.para(
        f"Per-site attribution of the gap S(I, negated) − S(I, positive) over {lay.n_pairs} {lay.pairs} pairs; mean gap "
        f"{gap} (95% interval over images).{caveats} `eos_share` is the part of the gap's attribution already on the "
        f"pooled EOS state at that site; a block's importance is how much of it the block adds. {res.noise}"
    )
    doc.table(["site", "EOS share", "changed-token share", "total", "mean |delta|"],
              [[site_label(r.site), r.eos_share, r.changed_share, r.total, r.mean_abs_delta] for r in lay.states])
    doc.table(["block", "importance", "95% CI"], [[b.block, b.mean, ci_cell(b)] for b in lay.blocks])
    block_evidence(doc, res.evidence)
    doc.figures(folder, "layer_attribution.png", lambda p: "Per-site attribution of the negation gap.")
    doc.figures(folder, "*.png", lambda p: f"Attribution: {caption_from_name(p)}.")


def patching(doc: Doc, out: StageOutput) -> None:
    """Activation-patching curves, both directions."""
    res = open_section(doc, "Which sites carry the negation effect? (activation patching)", out)
    if res is None:
        return
    dirs = res.directions
    for positions, curve in res.curves.items():
        doc.para(
            f"Patching the `{positions}` state(s) at one site, on {res.n_pairs[positions]} {res.pairs} pairs of "
            f"`{res.model}`: the share of the similarity change between the captions that the patch recreates "
            f"(forward: {dirs['forward']}; reverse: {dirs['reverse']}), with 95% intervals over images."
        )
        fwd, rev = curve.get("forward", []), curve.get("reverse", [])
        copies = res.untrained_curves if positions == "eos" else []
        spread = [_mean_spread([[c[d][j].share for c in copies] for j in range(len(fwd))]) if copies else [None] * len(fwd)
                  for d in ("forward", "reverse")]
        doc.table(["site", "forward share", "95% CI", "reverse share", "95% CI", "untrained forward (mean ± sd)",
                   "untrained reverse (mean ± sd)"],
                  [[site_label(f.site), f.share, ci_cell(f), r.share, ci_cell(r), u, v]
                   for f, r, u, v in zip(fwd, rev, *spread)])
    block_evidence(doc, res.evidence)
    doc.figures(out.folder, "*.png", lambda p: "Activation patching: share of the negation effect recreated per site, both directions.")


def _share(x) -> str:
    return with_ci(x.share, [x.ci_low, x.ci_high])


def _change(c) -> str:
    return f"{c.change:+.3f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]"


def _sites(points: list, keep) -> str:
    return ", ".join(site_label(p.site) for p in points if keep(p)) or "none"


def erasure(doc: Doc, out: StageOutput) -> None:
    """LEACE erasure per site: the share of the negation effect removed against two controls of the same rank and the
    untrained copies, what else erasure breaks, and the amnesic check."""
    res = open_section(doc, "Does the model use it? (LEACE erasure)", out)
    if res is None:
        return
    p = res.points
    above = _sites(p, lambda x: x.leace.ci_low > max(x.random.ci_high, x.shuffled.ci_high))
    gained = _sites(p, lambda x: x.over_untrained.ci_low > 0)
    amnesic = _sites(p, lambda x: x.amnesic.after_ci[0] <= x.amnesic.chance <= x.amnesic.after_ci[1])
    doc.para(
        f"At each site the linear \"negated\" concept was erased with LEACE (fitted on {res.fit_texts} captions of "
        f"{res.fit_images} images) and the forward pass finished; {res.pairs['presence']} presence and "
        f"{res.pairs['absence']} absence pairs of {res.eval_images} other images were scored. Two controls remove one "
        "direction too: a random direction in LEACE's whitened geometry, and LEACE fitted on labels shuffled across "
        f"captions. The same eraser was fitted on {len(res.untrained_seeds)} untrained copies of the architecture (seeds "
        f"{', '.join(map(str, res.untrained_seeds))}). Every interval is 95% over images. Sites where the real eraser "
        f"removes more than both controls (intervals apart): {above}. Sites where it removes more on the model than on "
        f"the copies (paired interval above 0): {gained}."
    )
    doc.table(["site", "LEACE", "random direction", "shuffled labels", "untrained: mean ± sd", "model − untrained"],
              [[site_label(x.site), _share(x.leace), _share(x.random), _share(x.shuffled),
                f"{x.untrained_mean:.3f} ± {x.untrained_spread:.3f}", _share(x.over_untrained)] for x in p])
    doc.para(
        "What else erasure breaks, as the change after erasure against before on the same images (presence, absence "
        f"and {res.pairs.get('swap', 0)} swap pairs: accuracy; retrieval among the measured images' captions: R@1), and "
        f"the amnesic check: a linear probe refitted on the erased states (mean over tokens) of {res.probe_captions} "
        f"captions the eraser never saw (folds grouped by image), before and after erasure; chance is "
        f"{p[0].amnesic.chance:.3f}. Sites where the refitted probe falls to chance: {amnesic}."
    )
    doc.table(["site", "presence", "absence", "swap", "R@1 image→text", "R@1 text→image", "probe before", "probe after"],
              [[site_label(x.site), _change(x.presence), _change(x.absence), _change(x.swap), _change(x.i2t_r1),
                _change(x.t2i_r1), with_ci(x.amnesic.before, x.amnesic.before_ci), with_ci(x.amnesic.after, x.amnesic.after_ci)]
               for x in p])
    doc.figures(out.folder, "*.png", lambda _: "Share of the negation effect removed at each site: LEACE, its two "
                "controls of the same rank and the untrained copies (dots: each copy), with 95% bands over images.")


def _mean_spread(values: list[list[float]]) -> list[str]:
    return [f"{np.mean(v):.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0.0:.3f}" for v in values]


def block_evidence(doc: Doc, ev: BlockEvidence) -> None:
    """A kind's per-block evidence: the model's gain, the untrained copies' mean ± spread, and the gain over them
    with its interval over images."""
    doc.para(f"Per block, the {ev.measure}: the model's gain, the mean ± sd of {len(ev.untrained_seeds)} untrained copies "
             f"(seeds {', '.join(map(str, ev.untrained_seeds))}), and the model's gain over them with its 95% interval "
             f"over {ev.images} images ({ev.rows} rows; model and copies resampled on the same images):")
    doc.table(["block", "model", "untrained (mean ± sd)", "gain over untrained", "95% CI", "beyond noise"],
              [[k, t, u, g, f"{lo:+.3f} – {hi:+.3f}", "yes" if c else "no"] for k, (t, u, g, lo, hi, c) in
               enumerate(zip(ev.trained, _mean_spread(np.array(ev.untrained).T.tolist()), ev.gain, ev.ci_low,
                             ev.ci_high, ev.certain))])


def heads(doc: Doc, out: StageOutput) -> None:
    """Per attention head: the map of every measure against the untrained copies and the top heads of each."""
    res = open_section(doc, "Which attention heads carry negation?", out)
    if res is None:
        return
    doc.para(
        f"Each of the {res.blocks} × {res.heads} heads of `{res.model}`, on {res.n_pairs} {res.pairs} pairs "
        f"({res.images} images): its pooled output patched between the captions, zeroed, or set to its mean, and its "
        f"attention to the negator; each measure minus its mean over {len(res.untrained_seeds)} untrained copies, with "
        "a 95% interval over images (the model and the copies resampled on the same images). Below, per measure, the "
        "five heads with the largest difference; a head is named block.head. The intervals are not corrected for "
        f"the {res.blocks * res.heads} heads: at 95%, about {0.05 * res.blocks * res.heads:.1f} per measure would "
        "exclude 0 by chance, so a head counts where several measures agree, the causal ones (patching, ablation) "
        "above all; attention alone shows where a head looks, not what it does."
    )
    rows = []
    for name, m in res.maps.items():
        certain = int(np.sum(m.certain & (np.asarray(m.ci_low) > 0)))
        for t in res.top(name, 5):
            rows.append([name, f"{t.block}.{t.head}", t.model, t.untrained, t.difference,
                         f"{t.ci_low:+.3f} – {t.ci_high:+.3f}", f"{certain} of {res.blocks * res.heads}"])
    doc.table(["measure", "head", "model", "untrained mean", "difference", "95% CI", "heads above untrained"], rows)
    doc.bullets([f"`{name}`: {m.measure}." for name, m in res.maps.items()])
    doc.figures(out.folder, "heads.png", lambda p: "Per head, model minus untrained copies; dots: the 95% interval over "
                "images excludes 0.")


def selection(doc: Doc, out: StageOutput) -> None:
    """The selected blocks, the rule, which kinds of evidence decided the plan and which were within noise."""
    res = open_section(doc, "Selected text blocks", out)
    if res is None:
        return
    ev = res.evidence
    decided = (f"The plan was decided by: {', '.join(ev.kinds)}." if res.certain else
               "**No kind of evidence has a block whose gain over the untrained copies lies above zero beyond noise**, so "
               "the plan falls back on the model's own gains and is not evidence of learned negation.")
    doc.para(
        f"Selected text blocks: {', '.join(map(str, res.blocks))}, covering {ev.coverage_of_plan:.3f} of the combined "
        f"score. Rule: {res.rule}"
        + (f" ({DEFAULT_RULE_BASIS})." if res.rule.split(" ")[0] == DEFAULT_RULE else ".") + f" {decided}"
        + (f" Within noise (weight 0): {', '.join(ev.within_noise)}." if ev.within_noise else "")
        + (f" Missing: {', '.join(ev.missing)}." if ev.missing else "")
    )
    doc.table(["evidence", "entered", "weight", "blocks counted", "gain over untrained per block [95% CI]"],
              [[kind, "yes" if r.entered else "no", r.weight,
                ", ".join(str(k) for k, c in enumerate(r.counted) if c) or "none",
                "; ".join(f"{k}: {g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for k, (g, lo, hi) in
                          enumerate(zip(r.gain, r.ci_low, r.ci_high)))] for kind, r in ev.by_kind.items()])
    inclusion = ev.stability.inclusion
    doc.table(["rank", "block", "score", *ev.scores, f"inclusion ({ev.stability.resamples} joint draws)"],
              [[i + 1, r.block, r.score, *(r.by_kind.get(k) for k in ev.scores),
                inclusion[r.block] if r.block < len(inclusion) else None] for i, r in enumerate(res.ranking)])
    doc.figures(out.folder, "*.png", lambda p: "Per-block evidence and the selected blocks.")
