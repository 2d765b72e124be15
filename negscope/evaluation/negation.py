"""Presence and absence negation accuracy (one draw, by number of objects, every pair), swap accuracy and MCQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.combinations import names_held_out
from ..data.negation import MCQ_TYPES, ImageNegations
from ..models import ClipBundle
from ..stats import mean_interval
from .features import text_lookup
from .paired import RowValues

Triple = tuple[int, str, str]


def pair_wins(bundle: ClipBundle, image_feats: torch.Tensor, *groups: list[Triple]) -> list[torch.Tensor]:
    """Per group of (image row, true, false) triples, whether S(I, true) > S(I, false); each text encoded once."""
    pairs = [p for g in groups for p in g]
    if not pairs:
        return [torch.zeros(0, dtype=torch.bool) for _ in groups]
    feats, row = text_lookup(bundle, [t for _, a, b in pairs for t in (a, b)])
    img = image_feats[[i for i, _, _ in pairs]]
    s_true = (img * feats[[row[a] for _, a, _ in pairs]]).sum(-1)
    s_false = (img * feats[[row[b] for _, _, b in pairs]]).sum(-1)
    return list((s_true > s_false).split([len(g) for g in groups]))


def _share(wins: torch.Tensor) -> float:
    return float(wins.float().mean()) if len(wins) else float("nan")


def pair_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, pairs: list[Triple]) -> float:
    """Share of (image row, true text, false text) triples where S(I, true) > S(I, false)."""
    return _share(pair_wins(bundle, image_feats, pairs)[0])


def by_key(wins: torch.Tensor, keys: list[str]) -> tuple[dict[str, float], dict[str, int]]:
    """Share of wins and number of pairs per key (numeric keys in numeric order)."""
    masks = {k: torch.tensor([x == k for x in keys]) for k in sorted(set(keys), key=int)}
    return {k: _share(wins[m]) for k, m in masks.items()}, {k: int(m.sum()) for k, m in masks.items()}


def image_interval(hits: np.ndarray | torch.Tensor, images: np.ndarray | list[int], seed: int = 0) -> list[float]:
    """The 95% bootstrap interval of a share of hits when whole images (each with all its rows) are resampled."""
    return list(mean_interval(np.asarray(hits, dtype=float), np.asarray(images), seed=seed)) if len(hits) else []


def negation_breakdown(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations], seed: int = 0) -> dict[str, Any]:
    """`EvaluationRow`'s pair metrics from one encoding pass: presence, absence, swap and both-negated accuracy (one
    draw) with their intervals over images, presence and absence by number of object categories, and over every pair;
    under "rows", each accuracy's `RowValues` (a win per pair)."""
    kinds = ("presence", "absence", "swap", "both_negated", "presence_all", "absence_all")
    single = kinds[:4]
    triples = {k: [(i, t, f) for i, n in enumerate(negs) for t, f in getattr(n, k)] for k in kinds}
    wins = dict(zip(kinds, pair_wins(bundle, image_feats, *triples.values())))
    rows = {f"{k}_accuracy" if k in single else f"{k}_pairs": RowValues(wins[k].numpy(), [i for i, _, _ in triples[k]])
            for k in kinds}
    out: dict[str, Any] = {"swap_accuracy": _share(wins["swap"]), "both_negated_accuracy": _share(wins["both_negated"]),
                           "rows": rows, "intervals": {f"{k}_accuracy": image_interval(wins[k], [i for i, _, _ in triples[k]], seed)
                                                      for k in single}}
    for kind in ("presence", "absence"):
        keys = [str(len(negs[i].record.present)) for i, _, _ in triples[kind]]
        out[f"{kind}_accuracy"] = _share(wins[kind])
        out[f"{kind}_by_objects"], out[f"{kind}_pairs_by_objects"] = by_key(wins[kind], keys)
        out[f"{kind}_all_pairs"] = _share(wins[f"{kind}_all"])
    return out


def combination_rows(
    rows: dict[str, RowValues], negs: list[ImageNegations], held_out: list[str] | tuple[str, ...]
) -> dict[str, dict[str, RowValues]]:
    """The one-draw presence and absence wins (`negation_breakdown`'s rows) split by the combinations they name: under
    "held_out" the pairs either of whose texts names a category of `held_out`, under "seen" the others."""
    out: dict[str, dict[str, RowValues]] = {"held_out": {}, "seen": {}}
    for kind in ("presence", "absence"):
        named = np.array([names_held_out(t, held_out) or names_held_out(f, held_out)
                          for n in negs for t, f in getattr(n, kind)], dtype=bool)
        wins = rows[f"{kind}_accuracy"]
        out["held_out"][kind] = RowValues(wins.values[named], wins.images[named])
        out["seen"][kind] = RowValues(wins.values[~named], wins.images[~named])
    return out


def form_rows(
    bundle: ClipBundle, image_feats: torch.Tensor, pairs: dict[str, dict[str, list[Triple]]]
) -> dict[str, dict[str, RowValues]]:
    """Per negation form (`data.forms.form_pairs`), its presence and absence pairs' wins, every text encoded once."""
    cells = [(form, kind) for form, kinds in pairs.items() for kind in ("presence", "absence")]
    wins = pair_wins(bundle, image_feats, *(pairs[f][k] for f, k in cells))
    out: dict[str, dict[str, RowValues]] = {f: {} for f in pairs}
    for (form, kind), w in zip(cells, wins):
        out[form][kind] = RowValues(w.numpy(), [i for i, _, _ in pairs[form][kind]])
    return out


def form_accuracy(
    bundle: ClipBundle, image_feats: torch.Tensor, pairs: dict[str, dict[str, list[Triple]]]
) -> dict[str, dict[str, float]]:
    """Per negation form (`data.forms.form_pairs`), its presence and absence accuracy, every text encoded once."""
    return {f: {k: v.mean() for k, v in kinds.items()} for f, kinds in form_rows(bundle, image_feats, pairs).items()}


def presence_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations]) -> float:
    """P[S(I, caption) > S(I, caption with a present object negated)]."""
    return pair_accuracy(bundle, image_feats, [(i, t, f) for i, n in enumerate(negs) for t, f in n.presence])


def absence_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations]) -> float:
    """P[S(I, 'caption, with no X') > S(I, 'caption, with X')] for absent X."""
    return pair_accuracy(bundle, image_feats, [(i, t, f) for i, n in enumerate(negs) for t, f in n.absence])


def swap_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations]) -> float:
    """P[S(I, caption) > S(I, caption with its main object replaced by an absent one)]."""
    return pair_accuracy(bundle, image_feats, [(i, t, f) for i, n in enumerate(negs) for t, f in n.swap])


TIE = 1e-6  # options whose similarities lie this close to the best one tie with it (float32 rounding)


@dataclass
class MCQScore:
    """Multiple-choice accuracy, by the type of the correct answer, its 95% interval over images, its chance level
    (the mean over questions of one over the number of options) and `ties`, the share of questions whose best score
    two or more options share; `rows`: the hits behind `mcq_accuracy` and each `mcq_<type>`."""

    accuracy: float
    by_type: dict[str, float]
    interval: list[float]
    chance: float
    rows: dict[str, RowValues]
    ties: float = float("nan")


def mcq_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations], seed: int = 0) -> MCQScore:
    """Accuracy overall and by the type of the correct answer. A question whose best score several options share (within
    `TIE`) picks one of them at random, so a file that always puts the answer first (NegBench's) gives a model that
    cannot tell the options apart chance, not a perfect score."""
    items = [(i, n.mcq) for i, n in enumerate(negs) if n.mcq is not None]
    if not items:
        return MCQScore(float("nan"), {}, [], float("nan"), {})
    feats, row = text_lookup(bundle, [o for _, q in items for o in q.options])
    rng = np.random.default_rng(seed)
    hits, ties = [], 0
    for i, q in items:
        scores = (feats[[row[o] for o in q.options]] @ image_feats[i]).numpy()
        best = np.flatnonzero(scores >= scores.max() - TIE)
        ties += len(best) > 1
        hits.append(int(rng.choice(best)) == q.answer)
    hits, types, images = np.array(hits), np.array([q.answer_type for _, q in items]), np.array([i for i, _ in items])
    rows = {"mcq_accuracy": RowValues(hits, images)} | {
        f"mcq_{t}": RowValues(hits[types == t], images[types == t]) for t in MCQ_TYPES if (types == t).any()}
    return MCQScore(float(hits.mean()), {k[4:]: v.mean() for k, v in rows.items() if k != "mcq_accuracy"},
                    image_interval(hits, images, seed), float(np.mean([1 / len(q.options) for _, q in items])), rows,
                    ties / len(items))
