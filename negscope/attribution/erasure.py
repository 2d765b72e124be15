"""Causal erasure: remove the linear "negated" concept from one site with LEACE, finish the forward pass, and
measure what the negation effect loses.

An eraser per site is fitted (`concept_erasure.LeaceFitter`) on the states of every real token of captions
labelled negated (1) or not (0), and at evaluation it is applied to every token state at that site. LEACE is
the least-squares edit after which no linear classifier does better than a constant at telling the two
classes apart from those states (Belrose et al., 2023).

The measure on (true, false) caption pairs is the share of the negation effect that erasure removes. With
g = S(I, negated) - S(I, positive) per pair before erasure and g_k after erasing at site k, it is the
gap-weighted mean of (g - g_k) / g, i.e. `recreated_share(g - g_k, g)`: 1 when the negation no longer moves
the score at all, 0 when erasure leaves it as it was. Presence and absence accuracy under erasure are
reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.hooks import RemovableHandle

from ..hooks.capture import capture_text_states
from ..models import ClipBundle
from ..progress import tqdm
from .patching import recreated_share
from .stats import bootstrap_ci


def fit_erasers(
    bundle: ClipBundle, texts: Sequence[str], labels: Sequence[int], sites: Sequence[str] | None = None, batch_size: int = 256
) -> dict[str, object]:
    """{site name: LeaceEraser} fitted on every real token state of `texts`, each token labelled with its text's label."""
    from concept_erasure import LeaceFitter

    texts, labels = list(texts), torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    if len(texts) != len(labels) or len(set(labels.tolist())) != 2:
        raise ValueError(f"erasers need one 0/1 label per text and both classes; got {len(labels)} labels for {len(texts)} texts")
    fitters: dict[str, LeaceFitter] = {}
    with capture_text_states(bundle, sites, pools=("tokens",)) as cap:
        for start in range(0, len(texts), batch_size):
            bundle.encode_text(texts[start : start + batch_size], batch_size=batch_size)
            for name, rows in cap.tokens().items():
                x = torch.cat(rows).double()
                z = torch.repeat_interleave(labels[start : start + len(rows)], torch.tensor([len(r) for r in rows]))
                fitters.setdefault(name, LeaceFitter(x.shape[1], 1, dtype=torch.float64)).update(x, z[:, None].double())
            cap.clear()
    return {name: f.eraser for name, f in fitters.items()}


def erased_site(bundle: ClipBundle, site: str, eraser) -> RemovableHandle:
    """A hook passing every token state at `site` through `eraser`; use it as `with erased_site(...):` to remove it after."""
    return bundle.hook_site(site, lambda state: eraser(state.double()).to(state.dtype))


@dataclass
class ErasureRun:
    """Per pair: which kind it is and S(true), S(false) before erasure and after erasing at each site (columns)."""

    sites: list[str]
    kinds: np.ndarray
    true: np.ndarray
    false: np.ndarray
    true_erased: np.ndarray
    false_erased: np.ndarray

    def accuracy(self, kind: str, erased_at: int | None = None, rows: np.ndarray | None = None) -> float:
        """Share of `kind` pairs scoring the true caption higher, before erasure or after erasing at site `erased_at`."""
        sel = self.kinds == kind if rows is None else rows[self.kinds[rows] == kind]
        t = self.true[sel] if erased_at is None else self.true_erased[sel, erased_at]
        f = self.false[sel] if erased_at is None else self.false_erased[sel, erased_at]
        return float((t > f).mean()) if len(t) else float("nan")

    def removed_share(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Per site, the gap-weighted share of the negation effect on the score that erasure removes."""
        rows = np.arange(len(self.true)) if rows is None else rows
        negated_first = self.kinds[rows] == "absence"  # absence pairs hold the negated caption as the true one
        a, b = self.true[rows], self.false[rows]
        ae, be = self.true_erased[rows], self.false_erased[rows]
        gap = np.where(negated_first, a - b, b - a)
        after = np.where(negated_first[:, None], ae - be, be - ae)
        return recreated_share(gap[:, None] - after, gap)

    def drops(self, kind: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Per site, `kind` accuracy before erasure minus after erasing at that site."""
        return np.array([self.accuracy(kind, None, rows) - self.accuracy(kind, j, rows) for j in range(len(self.sites))])

    def intervals(self, resamples: int = 1000, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Bootstrap 95% intervals per site, resampling pairs: of the removed share and of each kind's accuracy drop."""
        n = len(self.true)
        out = {"removed_share": bootstrap_ci(self.removed_share, n, resamples, seed)}
        for kind in dict.fromkeys(self.kinds.tolist()):
            out[f"{kind}_drop"] = bootstrap_ci(lambda rows, kind=kind: self.drops(kind, rows), n, resamples, seed)
        return out


def erase_pairs(
    bundle: ClipBundle,
    erasers: dict[str, object],
    pairs: Sequence[tuple[int, str, str, str]],
    image_feats: torch.Tensor,
    batch_size: int = 256,
    progress: bool = False,
) -> ErasureRun:
    """Score each (image row, true text, false text, kind) pair before erasure and with each site erased in turn."""
    texts = list(dict.fromkeys(t for _, a, b, _ in pairs for t in (a, b)))
    row = {t: i for i, t in enumerate(texts)}
    img = image_feats[[i for i, *_ in pairs]]
    true_rows, false_rows = [row[a] for _, a, _, _ in pairs], [row[b] for _, _, b, _ in pairs]

    def scores() -> tuple[np.ndarray, np.ndarray]:
        feats = bundle.encode_text(texts, batch_size=batch_size)
        return (img * feats[true_rows]).sum(-1).numpy(), (img * feats[false_rows]).sum(-1).numpy()

    sites = list(erasers)
    true, false = scores()
    true_erased, false_erased = np.zeros((len(pairs), len(sites))), np.zeros((len(pairs), len(sites)))
    for j, site in enumerate(tqdm(sites, desc="erasure", disable=not progress, leave=False)):
        with erased_site(bundle, site, erasers[site]):
            true_erased[:, j], false_erased[:, j] = scores()
    return ErasureRun(sites, np.array([k for *_, k in pairs]), true, false, true_erased, false_erased)
