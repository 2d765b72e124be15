"""Where and how hard to steer, chosen on a validation split held out of the training images (never the evaluated
ones), by the rule fine-tuning's checkpoints are chosen by: among the candidates whose R@1 fell by at most the
tolerance both ways, the best validation negation accuracy (`finetune.validation`).

Each candidate steers one site with one direction source, mode and strength (`candidates`): the probe's and LEACE's
directions added at strengths `STRENGTHS["add"]`, and LEACE's component rescaled at `STRENGTHS["project"]`. The search
is coarse to fine: every (source, mode, site) is scored at the middle of its strengths, and the `refine` best of those
(admissible first, then by negation accuracy) at each of their other strengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..finetune.validation import RECALLS, Validator, retrieval_drop
from ..models import ClipBundle
from ..models.steering import Steering, negated_positions, steered
from ..progress import tqdm

STRENGTHS = {"add": (0.5, 1.0, 2.0, 4.0), "project": (0.0, 2.0, 4.0, 8.0)}
PAIRINGS = (("probe", "add"), ("leace", "add"), ("leace", "project"))  # (direction source, mode)


@dataclass
class SteerChoice:
    """Every candidate's validation record (the first: the model unsteered), the one kept, whether it kept retrieval
    within the tolerance, and why it was kept."""

    records: list[dict]
    chosen: dict
    admissible: bool
    note: str


def candidates(sites: Sequence[str], strengths: dict[str, Sequence[float]] | None = None) -> list[dict]:
    """Every (source, mode) of `PAIRINGS` at each single site of `sites` and each strength of its mode."""
    strengths = strengths or STRENGTHS
    return [{"source": src, "mode": mode, "sites": [site], "strength": float(s)}
            for src, mode in PAIRINGS for site in sites for s in strengths[mode]]


def steering_for(base: str, directions: dict[str, dict[str, dict]], candidate: dict) -> Steering:
    """The `Steering` of `candidate` on model `base`, with the vectors `directions` (`fit_directions`) holds."""
    return Steering(base, candidate["source"], candidate["mode"], candidate["strength"], list(candidate["sites"]),
                    {s: directions[candidate["source"]][s] for s in candidate["sites"]})


def search(bundle: ClipBundle, validator: Validator, directions: dict[str, dict[str, dict]], grid: Sequence[dict],
           tolerance: float, refine: int | None = 3, progress: bool = False) -> SteerChoice:
    """Score the model unsteered and under the candidates on the validation split, coarse to fine; keep one.

    Args:
        bundle: the model to steer (left unsteered on return).
        validator: scores negation accuracy and R@1 both ways on the validation split.
        directions: `fit_directions`' output.
        grid: the candidates (`candidates`).
        tolerance: how far either R@1 may fall below the unsteered model's.
        refine: how many (source, mode, site) to score at every strength after the first round; None scores every
            candidate.
        progress: show a progress bar.

    Returns:
        The `SteerChoice`.
    """
    if not grid:
        raise ValueError("no steering candidates; give at least one site and strength")
    before = {"source": None, "mode": None, "sites": [], "strength": None, **validator.score(0)}
    captions = [c for r in validator.dataset for c in r.captions]
    # steering moves only captions with a negator: without one in the split, every candidate's R@1 is the model's
    moved = negated_positions(bundle, bundle.tokenize(captions)["input_ids"]).any()
    recall = None if moved else {k: before[k] for k in RECALLS}

    def admissible(r: dict) -> bool:
        return retrieval_drop(r, before) <= tolerance + 1e-12

    def scored(cands: list[dict], desc: str) -> list[dict]:
        out = []
        for cand in tqdm(cands, desc=desc, disable=not progress, leave=False):
            with steered(bundle, steering_for(bundle.spec, directions, cand)):
                out.append({**cand, **validator.score(0, recall)})
            out[-1].pop("step")
        return out

    groups: dict[tuple, list[dict]] = {}
    for cand in grid:
        groups.setdefault((cand["source"], cand["mode"], *cand["sites"]), []).append(cand)
    if refine is None:
        records = scored(list(grid), "steering candidates")
    else:
        first = scored([g[len(g) // 2] for g in groups.values()], "steering: each site")
        ranked = sorted(first, key=lambda r: (admissible(r), r["negation"]), reverse=True)[:refine]
        rest = [c for r in ranked for c in groups[(r["source"], r["mode"], *r["sites"])] if c["strength"] != r["strength"]]
        records = first + scored(rest, "steering: strengths")
    before.pop("step")
    ok = [r for r in records if admissible(r)]
    best = max(ok or records, key=lambda r: r["negation"])  # the first of equals: the earliest scored
    what = f"{best['source']} direction, {best['mode']} at {', '.join(best['sites'])}, strength {best['strength']:g}"
    scope = f"{len(records)} of {len(grid)} candidates scored"
    if ok:
        return SteerChoice([before, *records], best, True,
                           f"{what}: the best validation negation accuracy among the {len(ok)} candidates whose R@1 "
                           f"fell by at most {tolerance:g} both ways ({scope})")
    least = min(records, key=lambda r: retrieval_drop(r, before))
    return SteerChoice([before, *records], best, False,
                       f"{what}: no candidate kept R@1 within {tolerance:g} of the unsteered model ({scope}), so the "
                       f"best negation accuracy is kept; its worse R@1 fell by {retrieval_drop(best, before):.3f} (least "
                       f"fall: {retrieval_drop(least, before):.3f}); raise retrieval_tolerance")
