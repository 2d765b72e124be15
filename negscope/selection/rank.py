"""Rank text blocks by the negation evidence of every kind (`results.evidence.KINDS`) and pick a freeze plan.

Each kind's result holds its evidence in one shape, a `BlockEvidence`: per block k, the model's gain across block k
(the rise of the kind's curve from k's input site to its output site) minus the mean gain of untrained copies of the
architecture over several seeds, with a 95% interval over images and the bootstrap draws behind it (the model and its
copies resampled on the same images). Probes also name the tasks they left out as uninformative
(`ProbesResult.excluded`); they appear in `EvidenceSummary.excluded`.

Weighting by certainty: evidence within noise weighs nothing. Within a kind, block k counts only when its interval
lies wholly above 0; a kind with no such block is within noise and does not enter. Each kind that enters gives its
counted gains scaled to sum 1 (the other blocks 0), and the combined score is the mean of these over the kinds that
entered, each with the same weight. We count certain blocks rather than weight kinds by precision because the kinds
measure different quantities (probe selectivity, attribution shares, recreated and removed shares), so their draws'
variances are not on one scale, and a kind whose scaled profile barely varies over draws would get an unbounded weight.
`EvidenceSummary.by_kind` records per kind its gain with the interval, the blocks counted, whether it entered, its
weight and why.

When no kind enters, the plan cannot rest on evidence. It is then made from the model's own per-block gains (each
kind's gain clipped at 0 and scaled to sum 1, kinds averaged), `SelectionResult.certain` is false, the rule says the
selection is not evidence of learned negation, and no stability is computed.

Rules for the freeze plan (the blocks left trainable), with coverage c:
- ``front``: the smallest front block 0..m whose combined score sums to at least c;
- ``top``: the fewest top-ranked blocks whose scores sum to at least c (may be non-contiguous);
- ``window``: the fewest blocks in a row, anywhere, whose scores sum to at least c (of the windows that short, the
  one with the highest sum; ties: the earlier).
With a size k > 0 each rule takes exactly k blocks instead: blocks 0..k-1, the k top-ranked, the best k in a row.
The ranking sorts blocks by the combined score (ties: the earlier block first).

Stability resamples every kind together: draw b combines each kind's b-th draw (its images and, on the same images,
its untrained copies resampled), counted at the same blocks with the same weights, applies the rule, and counts which
blocks are kept. Every kind draws with `Common.evidence_resamples` and `Common.seed`, so the draws line up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..models.sites import Block
from ..results import (
    AttributionResult,
    ErasureResult,
    EvidenceSummary,
    KindWeight,
    PatchingResult,
    ProbesResult,
    RankedBlock,
    SelectionResult,
    Stability,
)
from ..results.evidence import KINDS, BlockEvidence
from ..results.selection import DEFAULT_RULE, RULES


@dataclass
class Evidence:
    """Every kind's per-block evidence that its result holds, the files it came from and what was left out."""

    kinds: dict[str, BlockEvidence]
    sources: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def n_blocks(self) -> int:
        """The number of text blocks the evidence covers."""
        return len(next(iter(self.kinds.values())).gain)


def gather_evidence(
    probes: ProbesResult | None = None,
    attribution: AttributionResult | None = None,
    patching: PatchingResult | None = None,
    erasure: ErasureResult | None = None,
    sources: Mapping[str, str] | None = None,
) -> Evidence:
    """The `evidence` of whichever results are given (a result without it counts as missing); at least one is needed,
    and all must cover the same text blocks."""
    results = {"probes": probes, "attribution": attribution, "patching": patching, "erasure": erasure}
    kinds = {k: r.evidence for k in KINDS if (r := results[k]) is not None and r.evidence is not None}
    if not kinds:
        raise FileNotFoundError(
            "no evidence to select blocks from; run `negscope attribute` and/or `negscope patch` (or `probe`, `erase`) "
            "with --out pointing at the --from folder first"
        )
    blocks = {k: len(ev.gain) for k, ev in kinds.items()}
    if len(set(blocks.values())) > 1:
        raise ValueError(f"the evidence disagrees on the number of text blocks ({blocks}); rerun it on one model")
    excluded = {f"probes: {task}": why for task, why in (probes.excluded if probes is not None else {}).items()}
    return Evidence(kinds, {k: v for k, v in (sources or {}).items() if k in kinds}, excluded)


def counted_blocks(ev: BlockEvidence) -> np.ndarray:
    """Per block, whether its gain over the untrained copies is positive beyond noise (its interval lies above 0)."""
    return np.asarray(ev.ci_low, dtype=float) > 0


def unit(gain: np.ndarray, counted: np.ndarray | None = None) -> np.ndarray | None:
    """`gain` clipped at 0 (and set to 0 outside `counted`), scaled to sum 1; None when nothing is left."""
    pos = np.clip(np.nan_to_num(np.asarray(gain, dtype=float)), 0, None) * (True if counted is None else counted)
    return pos / pos.sum() if pos.sum() > 0 else None


def weigh(ev: Evidence) -> dict[str, KindWeight]:
    """Per kind, its record in the selection: the blocks it counts, whether it enters and with what weight."""
    entered = [k for k, e in ev.kinds.items() if counted_blocks(e).any()]
    out = {}
    for kind, e in ev.kinds.items():
        counted = counted_blocks(e)
        reason = (f"blocks {', '.join(map(str, np.flatnonzero(counted)))} gain over the untrained copies beyond noise"
                  if kind in entered else "within noise: no block's interval of the gain over the untrained copies lies "
                  "above 0")
        out[kind] = KindWeight(e.measure, e.images, e.untrained_seeds, e.gain, e.ci_low, e.ci_high, counted.tolist(),
                               kind in entered, 1 / len(entered) if kind in entered else 0.0, reason)
    return out


def combine(profiles: dict[str, np.ndarray | None], weights: dict[str, float], n_blocks: int) -> np.ndarray:
    """The weighted mean of the kinds' scaled profiles (kinds with none left out); zeros when no kind has one."""
    present = {k: p for k, p in profiles.items() if p is not None and weights.get(k, 0) > 0}
    if not present:
        return np.zeros(n_blocks)
    total = sum(weights[k] for k in present)
    return sum(weights[k] * p for k, p in present.items()) / total


def choose(combined: np.ndarray, coverage: float, rule: str, size: int = 0) -> list[int]:
    """The freeze plan (trainable blocks) that `rule` picks from the combined scores: enough blocks to cover
    `coverage` of them, or exactly `size` blocks when `size` > 0."""
    n = len(combined)
    if rule == "window":
        for width in [size] if size else range(1, n + 1):
            sums = np.convolve(combined, np.ones(width), "valid")
            start = int(np.argmax(sums))
            if size or sums[start] >= coverage - 1e-9:
                return list(range(start, start + width))
        return list(range(n))
    order = np.arange(n) if rule == "front" else ranking(combined)
    m = size or int(np.searchsorted(np.cumsum(combined[order]), coverage - 1e-9)) + 1
    return sorted(int(k) for k in order[: min(m, n)])


def ranking(combined: np.ndarray) -> np.ndarray:
    """Block indices by combined score, highest first; ties keep the earlier block first."""
    return np.argsort(-combined, kind="stable")


def stability(ev: Evidence, record: dict[str, KindWeight], coverage: float, rule: str, size: int = 0) -> Stability:
    """Inclusion of each block in the plan over the draws, every kind that entered resampled together."""
    entered = [k for k, r in record.items() if r.entered]
    draws = {k: np.asarray(ev.kinds[k].draws, dtype=float).reshape(-1, ev.n_blocks) for k in entered}
    resamples = min(len(d) for d in draws.values())
    weights = {k: record[k].weight for k in entered}
    counts = np.zeros(ev.n_blocks)
    for b in range(resamples):
        combined = combine({k: unit(d[b], np.asarray(record[k].counted)) for k, d in draws.items()}, weights, ev.n_blocks)
        if combined.sum() > 0:
            counts[choose(combined, coverage, rule, size)] += 1
    seed = ev.kinds[entered[0]].resample_seed
    return Stability(resamples, seed, (counts / resamples).tolist() if resamples else [])


def rank_blocks(ev: Evidence, coverage: float = 0.5, rule: str = DEFAULT_RULE, size: int = 0) -> SelectionResult:
    """The selection: ranked blocks, the freeze plan, each kind's weight in it and the plan's stability over draws.

    Args:
        ev: every kind's block evidence.
        coverage: the share of the combined score the plan must cover (when `size` is 0).
        rule: "front", "top" or "window" (see the module notes).
        size: the plan's number of blocks; 0 lets `coverage` decide.

    Returns:
        The selection, its rule and size recorded.
    """
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} is unknown; choose one of {RULES}")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage {coverage} must be in (0, 1]; e.g. 0.5 for half of the negation effect")
    if not 0 <= size <= ev.n_blocks:
        raise ValueError(f"size {size} must be between 0 (coverage decides) and the model's {ev.n_blocks} text blocks")
    record = weigh(ev)
    certain = any(r.entered for r in record.values())
    if certain:
        scores = {k: unit(np.asarray(r.gain), np.asarray(r.counted)) for k, r in record.items() if r.entered}
        weights = {k: r.weight for k, r in record.items()}
        stable = None
    else:
        scores = {k: p for k, e in ev.kinds.items() if (p := unit(np.asarray(e.trained))) is not None}
        weights = dict.fromkeys(scores, 1.0)
        stable = Stability(0, ev.kinds[next(iter(ev.kinds))].resample_seed, [])
    if not scores:
        raise ValueError("no evidence shows any block adding to the negation effect; rerun the analysis on more images")
    combined = combine(scores, weights, ev.n_blocks)
    blocks = choose(combined, coverage, rule, size)
    what = {"front": ("smallest front block 0..m of text blocks", f"front blocks 0..{size - 1}"),
            "top": ("fewest top-ranked text blocks", f"the {size} top-ranked text blocks"),
            "window": ("fewest text blocks in a row", f"the {size} text blocks in a row")}[rule]
    plan = f"{what[0]} whose combined score reaches {coverage:g}" if not size else f"{what[1]} with the highest combined score"
    basis = ("; combined score = mean over the kinds of evidence that entered (equal weights) of each kind's per-block "
             "gain over the untrained copies, counted only at blocks whose 95% interval over images lies above 0, "
             "scaled to sum 1" if certain else
             "; NO kind of evidence has a block whose gain over the untrained copies lies above 0 beyond noise, so the "
             "blocks are ranked on the model's own per-block gains (clipped at 0, scaled to sum 1, kinds averaged): the "
             "selection is not evidence of learned negation")
    return SelectionResult(
        blocks=blocks,
        ranking=[RankedBlock(int(k), Block(int(k)).name, float(combined[k]), {kind: float(s[k]) for kind, s in scores.items()})
                 for k in ranking(combined)],
        evidence=EvidenceSummary(
            kinds=list(scores) if certain else [],
            missing=[k for k in KINDS if k not in ev.kinds],
            sources=dict(ev.sources),
            scores={k: s.tolist() for k, s in scores.items()},
            combined=combined.tolist(),
            coverage_of_plan=float(combined[blocks].sum()),
            stability=stable or stability(ev, record, coverage, rule, size),
            excluded=dict(ev.excluded),
            within_noise=[k for k, r in record.items() if not r.entered],
            by_kind=record,
        ),
        rule=f"{rule} ({f'size {size}' if size else f'coverage {coverage:g}'}): {plan}{basis}",
        coverage=coverage,
        size=size,
        seed=ev.kinds[next(iter(ev.kinds))].resample_seed,
        certain=certain,
    )
