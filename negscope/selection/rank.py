"""Rank text blocks by the negation evidence of probes, per-site attribution and patching, and pick a freeze plan.

The evidence files hold curves over sites; each kind gives every text block k a gain: how much of something
block k adds between its input site and its output site `text.block.k` (`negscope.models.block_gains`).

- ``attribution``: the share of the negation gap's attribution that block k moves onto the pooled EOS state
  (`AttributionResult.sites`, `LayerAttribution.importance`), mean over pairs.
- ``patching``: the rise across block k of the EOS-patching curve, the share of the negation effect that
  patching the EOS state recreates (`attribution.patching`); forward and reverse directions averaged.
- ``probes``: the rise across block k of probe selectivity (accuracy minus the larger of the control task's
  and the untrained copy's accuracy), averaged over the probing tasks of the probes result. A task whose surface
  baseline scores at least as high as the probe at every site (`TaskProbes.beaten_by`) is uninformative and left
  out; `EvidenceSummary.excluded` names it with the reason.
- ``erasure``: the rise across block k of the share of the negation effect that LEACE erasure of the
  "negated" concept removes (`ErasureResult`).

Every kind is measured on an untrained copy of the architecture too, and a block's evidence is its gain over
that copy: the untrained copy's per-block gain (mean over pairs) is subtracted from the model's. Each such
vector is clipped at zero and scaled to sum to one, and the available kinds are averaged into a combined
score per block. The ranking sorts blocks by that score (ties: the earlier block first).

Rules for the freeze plan (the blocks left trainable), with coverage c:
- ``front``: the smallest front block 0..m whose combined score sums to at least c;
- ``top``: the fewest top-ranked blocks whose scores sum to at least c (may be non-contiguous).

Stability: the plan is recomputed on `resamples` bootstrap resamples of the pairs (seeded), and each block's
inclusion frequency is reported; the plan itself uses all pairs, so it does not depend on the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..attribution.patching import recreated_share
from ..models.sites import Block, Site, all_sites, block_gains
from ..results import (
    AttributionResult,
    ErasureResult,
    EvidenceSummary,
    PatchingResult,
    ProbesResult,
    RankedBlock,
    SelectionResult,
    Stability,
)
from ..results.selection import RULES


@dataclass
class Evidence:
    """Per-pair evidence arrays, as read from the probes, attribution and patching results."""

    n_blocks: int
    attribution: np.ndarray | None = None  # per pair and block
    patching: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (effect per pair and site, gap per pair)
    probes: np.ndarray | None = None
    erasure: np.ndarray | None = None
    untrained: dict[str, np.ndarray] = field(default_factory=dict)  # per kind, the untrained copy's per-block gain
    sources: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)  # evidence left out, with the reason

    @property
    def kinds(self) -> list[str]:
        """The kinds of evidence present."""
        return [k for k, v in (("probes", self.probes), ("attribution", self.attribution), ("patching", self.patching or None),
                               ("erasure", self.erasure)) if v is not None]


def _patch_effects(runs: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per direction present: (effect per pair and site, gap per pair)."""
    pairs = []
    for direction in ("forward", "reverse"):
        if direction in runs:
            r = runs[direction]
            receiver, donor = np.asarray(r.receiver), np.asarray(r.donor)
            pairs.append((np.asarray(r.patched) - receiver[:, None], donor - receiver))
    return pairs


def _patch_gain(sites: list[str], effects: list[tuple[np.ndarray, np.ndarray]], rows: np.ndarray | None = None) -> np.ndarray:
    """Per block, the rise of the recreated share across it, averaged over directions (on `rows` of the pairs)."""
    return np.mean([block_gains(sites, recreated_share(e if rows is None else e[rows], g if rows is None else g[rows]))
                    for e, g in effects], axis=0)


def gather_evidence(
    probes: ProbesResult | None = None,
    attribution: AttributionResult | None = None,
    patching: PatchingResult | None = None,
    erasure: ErasureResult | None = None,
    sources: dict[str, str] | None = None,
) -> Evidence:
    """The per-pair evidence in whichever results are given; attribution or patching is required."""
    if attribution is None and patching is None:
        raise FileNotFoundError(
            "no attribution or patching result to select blocks from; run `negscope attribute` and/or `negscope patch` "
            "with --out pointing at the --from folder first"
        )
    sites = {k: r.sites.sites if k == "attribution" else r.sites
             for k, r in (("attribution", attribution), ("patching", patching)) if r is not None}
    if len({tuple(v) for v in sites.values()}) > 1:
        raise ValueError(f"the evidence disagrees on the sites of the text encoder ({sites}); rerun it on one model")
    names = next(iter(sites.values()))
    ev = Evidence(n_blocks=sum(Site(n).block is not None for n in names), sources=dict(sources or {}))
    if attribution is not None:
        ev.attribution = block_gains(names, attribution.sites.per_pair.eos_share)
        if attribution.untrained is not None:
            ev.untrained["attribution"] = block_gains(names, attribution.untrained.per_pair.eos_share).mean(0)
    if patching is not None:
        ev.patching = _patch_effects(patching.runs.get("eos", {}))
        if patching.untrained_runs:
            ev.untrained["patching"] = _patch_gain(names, _patch_effects(patching.untrained_runs))
    if probes is not None:
        ev.probes = probe_gains(probes, ev.n_blocks, ev.excluded)
    if erasure is not None:
        if erasure.sites != names:
            raise ValueError(f"the erasure result has sites {erasure.sites}, the other evidence {names}; rerun it on one model")
        ev.erasure = block_gains(names, [p.removed_share for p in erasure.trained.points])
        ev.untrained["erasure"] = block_gains(names, [p.removed_share for p in erasure.untrained.points])
    return ev


def probe_gains(probes: ProbesResult, n_blocks: int, excluded: dict[str, str] | None = None) -> np.ndarray | None:
    """Per block, the rise of selectivity from its input to its output site, averaged over the informative probing
    tasks; each task a surface baseline beats at every site is named in `excluded`, with the reason."""
    sites = [s.name for s in all_sites(n_blocks)]
    curves = []
    for name, task in probes.tasks.items():
        if (baseline := task.beaten_by()) is not None:
            if excluded is not None:
                excluded[f"probes: {name}"] = (
                    f"uninformative: the {baseline.replace('_', ' ')} baseline ({task.baselines[baseline].accuracy:.3f}) "
                    f"scores at least as high as the probe at every site (best {max(r.accuracy for r in task.sites):.3f})")
            continue
        sel = {r.site: r.selectivity for r in task.sites}
        if all(s in sel for s in sites):
            curves.append(block_gains(sites, [sel[s] for s in sites]))
    return np.mean(curves, axis=0) if curves else None


def _unit(gain: np.ndarray) -> np.ndarray | None:
    pos = np.clip(np.nan_to_num(gain), 0, None)
    return pos / pos.sum() if pos.sum() > 0 else None


def block_scores(ev: Evidence, rows: dict[str, np.ndarray] | None = None, over_untrained: bool = True) -> dict[str, np.ndarray]:
    """Each kind's normalised per-block gain (over the untrained copy), on all pairs or on the resampled `rows` of each kind."""
    rows = rows or {}
    sites = all_sites(ev.n_blocks)
    gains: dict[str, np.ndarray] = {}
    if ev.probes is not None:
        gains["probes"] = ev.probes
    if ev.attribution is not None:
        idx = rows.get("attribution", np.arange(len(ev.attribution)))
        gains["attribution"] = ev.attribution[idx].mean(0)
    if ev.patching:
        gains["patching"] = _patch_gain(sites, ev.patching, rows.get("patching"))
    if ev.erasure is not None:
        gains["erasure"] = ev.erasure
    control = ev.untrained if over_untrained else {}
    return {k: u for k, g in gains.items() if (u := _unit(g - control.get(k, 0.0))) is not None}


def choose(combined: np.ndarray, coverage: float, rule: str) -> list[int]:
    """The freeze plan (trainable blocks) that `rule` picks from the combined scores."""
    if rule == "front":
        m = int(np.searchsorted(np.cumsum(combined), coverage - 1e-9))
        return list(range(min(m, len(combined) - 1) + 1))
    order = ranking(combined)
    m = int(np.searchsorted(np.cumsum(combined[order]), coverage - 1e-9))
    return sorted(int(k) for k in order[: min(m, len(order) - 1) + 1])


def ranking(combined: np.ndarray) -> np.ndarray:
    """Block indices by combined score, highest first; ties keep the earlier block first."""
    return np.argsort(-combined, kind="stable")


def rank_blocks(ev: Evidence, coverage: float = 0.5, rule: str = "front", resamples: int = 200, seed: int = 0) -> SelectionResult:
    """The selection: ranked blocks, the freeze plan, the evidence behind it and its bootstrap stability."""
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} is unknown; choose one of {RULES}")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage {coverage} must be in (0, 1]; e.g. 0.5 for half of the negation effect")
    scores = block_scores(ev)
    over_untrained = bool(scores)
    if not over_untrained:
        scores = block_scores(ev, over_untrained=False)
    if not scores:
        raise ValueError("no evidence shows any block adding to the negation effect; rerun attribution or patching on more pairs")
    combined = np.mean(list(scores.values()), axis=0)
    blocks = choose(combined, coverage, rule)
    rng = np.random.default_rng(seed)
    counts = np.zeros(ev.n_blocks)
    sizes = {k: len(a) for k, a in (("attribution", ev.attribution), ("patching", ev.patching[0][1] if ev.patching else None)) if a is not None}
    for _ in range(resamples):
        rows = {k: rng.integers(0, n, n) for k, n in sizes.items()}
        boot = block_scores(ev, rows, over_untrained)
        if boot:
            counts[choose(np.mean(list(boot.values()), axis=0), coverage, rule)] += 1
    return SelectionResult(
        blocks=blocks,
        ranking=[
            RankedBlock(int(k), Block(int(k)).name, float(combined[k]), {kind: float(s[k]) for kind, s in scores.items()})
            for k in ranking(combined)
        ],
        evidence=EvidenceSummary(
            kinds=list(scores),
            missing=[k for k in ("probes", "attribution", "patching", "erasure") if k not in scores],
            sources=ev.sources,
            scores={k: s.tolist() for k, s in scores.items()},
            combined=combined.tolist(),
            coverage_of_plan=float(combined[blocks].sum()),
            stability=Stability(resamples, seed, (counts / max(resamples, 1)).tolist()),
            excluded=dict(ev.excluded),
        ),
        rule=f"{rule} (coverage {coverage:g}): " + (
            f"smallest front block 0..m of text blocks whose combined score reaches {coverage:g}"
            if rule == "front" else f"fewest top-ranked text blocks whose combined score reaches {coverage:g}"
        ) + ("; combined score = mean over evidence kinds of each kind's per-block gain over the untrained copy, "
             "clipped at 0 and scaled to sum 1" if over_untrained else
             "; NO block gains over the untrained copy in any kind of evidence, so the blocks are ranked on the model's "
             "own per-block gains (clipped at 0, scaled to sum 1): the selection is not evidence of learned negation"),
        over_untrained=over_untrained,
        coverage=coverage,
        seed=seed,
    )
