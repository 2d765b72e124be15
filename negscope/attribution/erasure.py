"""Causal erasure: remove the linear "negated" concept from one site with LEACE, finish the forward pass, and
measure what the negation effect loses, beside two control erasers of the same rank and what else erasure breaks.

An eraser per site is fitted (`concept_erasure.LeaceFitter`) on the states of every real token of captions
labelled negated (1) or not (0), and at evaluation it is applied to every token state at that site. LEACE is
the least-squares edit after which no linear classifier does better than a constant at telling the two
classes apart from those states (Belrose et al., 2023). For one binary concept it removes one direction.

Two controls remove one direction too, fitted on the same states: LEACE on the labels permuted across the texts
(`shuffled`), and LEACE on a standard normal concept drawn per token independently of the states (`random`),
whose direction is uniform in LEACE's whitened geometry. A real eraser should remove more than both.

The measure on (true, false) caption pairs is the share of the negation effect that erasure removes. With
g = S(I, negated) - S(I, positive) per pair before erasure and g_k after erasing at site k, it is the
gap-weighted mean of (g - g_k) / g, i.e. `recreated_share(g - g_k, g)`: 1 when the negation no longer moves
the score at all, 0 when erasure leaves it as it was. Presence, absence and swap accuracy and R@1 under erasure
are measured against no erasure on the same images, and a linear probe refitted on erased token states of
held-out captions shows whether the concept is still linearly readable (the amnesic check).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.hooks import RemovableHandle

from ..hooks.capture import capture_text_states
from ..models import ClipBundle
from ..progress import tqdm
from .integrated import bare_blocks, skipped
from .patching import recreated_share

if TYPE_CHECKING:
    from ..data.negation import ImageNegations

CONTROLS = ("random", "shuffled")


def fit_erasers(
    bundle: ClipBundle, texts: Sequence[str], labels: Sequence[int], sites: Sequence[str] | None = None,
    batch_size: int = 256, seed: int | None = None,
) -> dict[str, dict[str, object]]:
    """LEACE erasers per site, fitted in one pass on every real token state of `texts`, each token labelled with its
    text's label.

    Args:
        bundle: the model.
        texts: the captions to fit on.
        labels: one 0/1 label per text (1: negated); both classes must occur.
        sites: the sites (None: every site).
        batch_size: captions per forward pass.
        seed: when given, the two controls (`CONTROLS`) are fitted as well, with this seed.

    Returns:
        {"leace": {site: eraser}}, plus {"random": ..., "shuffled": ...} when `seed` is given.
    """
    from concept_erasure import LeaceFitter

    texts, labels = list(texts), torch.as_tensor(np.asarray(labels), dtype=torch.float64)
    if len(texts) != len(labels) or len(set(labels.tolist())) != 2:
        raise ValueError(f"erasers need one 0/1 label per text and both classes; got {len(labels)} labels for {len(texts)} texts")
    concepts = {"leace": labels}
    if seed is not None:
        concepts["shuffled"] = labels[torch.as_tensor(np.random.default_rng(seed).permutation(len(labels)))]
    normal = torch.Generator().manual_seed(0 if seed is None else seed)
    fitters: dict[tuple[str, str], LeaceFitter] = {}
    with capture_text_states(bundle, sites, pools=("tokens",)) as cap:
        for start in range(0, len(texts), batch_size):
            bundle.encode_text(texts[start : start + batch_size], batch_size=batch_size)
            for name, rows in cap.tokens().items():
                x = torch.cat(rows).double()
                lengths = torch.tensor([len(r) for r in rows])
                z = {kind: torch.repeat_interleave(c[start : start + len(rows)], lengths) for kind, c in concepts.items()}
                if seed is not None:
                    z["random"] = torch.randn(len(x), generator=normal, dtype=torch.float64)
                for kind, values in z.items():
                    fitters.setdefault((kind, name), LeaceFitter(x.shape[1], 1, dtype=torch.float64)).update(x, values[:, None])
            cap.clear()
    out: dict[str, dict[str, object]] = {}
    for (kind, name), fitter in fitters.items():
        out.setdefault(kind, {})[name] = fitter.eraser
    return out


def erased_site(bundle: ClipBundle, site: str, eraser) -> RemovableHandle:
    """A hook passing every token state at `site` through `eraser`; use it as `with erased_site(...):` to remove it after."""
    return bundle.hook_site(site, lambda state: eraser(state.double()).to(state.dtype))


@dataclass
class ErasedTexts:
    """Text features of distinct texts without erasure (`clean`, texts × width) and with each site erased in turn
    (`erased`, sites × texts × width)."""

    sites: list[str]
    row: dict[str, int]
    clean: torch.Tensor
    erased: torch.Tensor

    def features(self, texts: Sequence[str], site: int | None = None) -> torch.Tensor:
        """The features of `texts`, without erasure (`site` None) or with site number `site` erased."""
        rows = [self.row[t] for t in texts]
        return self.clean[rows] if site is None else self.erased[site, rows]


def erase_texts(bundle: ClipBundle, erasers: dict[str, object], texts: Sequence[str], batch_size: int = 256,
                progress: bool = False) -> ErasedTexts:
    """Encode each distinct text of `texts` once without erasure and once per site with that site erased.

    The pass without erasure keeps every site's states; a pass erasing site k puts the erased kept states in place
    and skips the blocks below k (`skipped`) where the blocks allow it, so it runs only the blocks above.

    Args:
        bundle: the model.
        erasers: {site: eraser}, applied one site at a time.
        texts: the texts (repeats are encoded once).
        batch_size: captions per forward pass.
        progress: show a progress bar over sites.

    Returns:
        The `ErasedTexts`.
    """
    distinct = list(dict.fromkeys(texts))
    sites = list(erasers)

    def encode() -> torch.Tensor:  # each shared token prefix once: the eraser acts on each token alone
        return bundle.encode_text(distinct, batch_size=batch_size, share_prefixes=True)

    kept: dict[str, list[torch.Tensor]] = {s: [] for s in sites}
    handles = [bundle.hook_site(s, lambda state, s=s: kept[s].append(state)) for s in sites]
    try:
        clean = encode()
    finally:
        for h in handles:
            h.remove()
    bare = bare_blocks(bundle)
    erased = torch.zeros(len(sites), *clean.shape)
    for j, site in enumerate(tqdm(sites, desc="erasure", disable=not progress, leave=False)):
        calls, eraser, block = iter(kept.pop(site)), erasers[site], bundle.site(site).block
        below = bundle.text_layers[: block.index + 1] if bare and block is not None else []
        def replay(state: torch.Tensor, calls=calls, eraser=eraser) -> torch.Tensor:
            return eraser(next(calls).double()).to(state.dtype)

        with bundle.hook_site(site, replay), skipped(below):
            erased[j] = encode()
    return ErasedTexts(sites, {t: i for i, t in enumerate(distinct)}, clean, erased)


@dataclass
class ErasureRun:
    """Per pair: its kind, its image and S(true), S(false) before erasure and after erasing at each site (columns)."""

    sites: list[str]
    kinds: np.ndarray
    images: np.ndarray
    true: np.ndarray
    false: np.ndarray
    true_erased: np.ndarray
    false_erased: np.ndarray

    def hits(self, kind: str | None = None, erased_at: int | None = None) -> np.ndarray:
        """Per pair of `kind` (None: every pair), 1 where the true caption scores higher, before erasure or after
        erasing at site number `erased_at`."""
        sel = slice(None) if kind is None else self.kinds == kind
        t = self.true[sel] if erased_at is None else self.true_erased[sel, erased_at]
        f = self.false[sel] if erased_at is None else self.false_erased[sel, erased_at]
        return (t > f).astype(float)

    def removed_share(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Per site, the gap-weighted share of the negation effect on the score that erasure removes, over presence
        and absence pairs (`rows`: pair indices, with repeats; None: every pair)."""
        rows = np.arange(len(self.true)) if rows is None else rows
        rows = rows[np.isin(self.kinds[rows], ("presence", "absence"))]
        negated_first = self.kinds[rows] == "absence"  # absence pairs hold the negated caption as the true one
        a, b = self.true[rows], self.false[rows]
        ae, be = self.true_erased[rows], self.false_erased[rows]
        gap = np.where(negated_first, a - b, b - a)
        after = np.where(negated_first[:, None], ae - be, be - ae)
        return recreated_share(gap[:, None] - after, gap)


def pair_run(encoded: ErasedTexts, pairs: Sequence[tuple[int, str, str, str]], image_feats: torch.Tensor) -> ErasureRun:
    """Score each (image row, true text, false text, kind) pair before erasure and with each site erased in turn.

    Args:
        encoded: the features of every text of `pairs`, from `erase_texts`.
        pairs: the caption pairs, each with the row of its image in `image_feats`.
        image_feats: L2-normalised image features.

    Returns:
        The `ErasureRun`.
    """
    images = [i for i, *_ in pairs]
    img = image_feats[images]
    true, false = [a for _, a, _, _ in pairs], [b for _, _, b, _ in pairs]

    def scores(site: int | None) -> tuple[np.ndarray, np.ndarray]:
        return ((img * encoded.features(true, site)).sum(-1).numpy(), (img * encoded.features(false, site)).sum(-1).numpy())

    t, f = scores(None)
    erased = [scores(j) for j in range(len(encoded.sites))]
    return ErasureRun(encoded.sites, np.array([k for *_, k in pairs]), np.array(images), t, f,
                      np.stack([e[0] for e in erased], 1), np.stack([e[1] for e in erased], 1))


def amnesic_check(states: dict[str, torch.Tensor], erasers: dict[str, object], labels: np.ndarray, groups: np.ndarray,
                  seed: int = 0, folds: int = 5) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Whether a linear probe refitted on erased states still reads the concept: per site, a `LinearProbe` scored out
    of fold (folds grouped by `groups`, every site on the same folds) on the states before and after erasure. With
    states pooled as the mean over a caption's tokens, the erased mean is the eraser applied to the mean (it is affine).

    Args:
        states: {site: (rows, width) states} of captions the erasers were not fitted on.
        erasers: {site: eraser} for the same sites.
        labels: per row, its 0/1 label.
        groups: per row, its group (image); no group is on both sides of a split.
        seed: the seed of the folds and the probe.
        folds: outer folds (at most one per group).

    Returns:
        {site: (per-row 0/1 correctness before erasure, after erasure)}.
    """
    from ..probes import LinearProbe, cross_validate, grouped_splits, nested_folds

    labels, groups = np.asarray(labels), np.asarray(groups)
    folds = min(folds, len(np.unique(groups)))  # few measured images: one image per fold at most
    shared = nested_folds(labels, groups, grouped_splits(labels, groups, folds, seed), seed=seed)
    sites = list(states)
    jobs = [(x.numpy(), shared) for s in sites for x in (states[s].double(), erasers[s](states[s].double()))]
    scores = cross_validate(jobs, LinearProbe(seed=seed, solver="torch"))
    return {s: (scores[2 * j].correct.astype(float), scores[2 * j + 1].correct.astype(float)) for j, s in enumerate(sites)}


def labelled_texts(negs: list[ImageNegations], images: range, k: int) -> tuple[list[str], list[int], list[int]]:
    """The first `k` presence and absence pairs' captions of `images`, each labelled negated (1) or not (0), with
    its image."""
    texts, labels, owners = [], [], []
    for i in images:
        for true, false in negs[i].presence[:k]:
            texts, labels, owners = texts + [true, false], labels + [0, 1], owners + [i, i]
        for true, false in negs[i].absence[:k]:
            texts, labels, owners = texts + [true, false], labels + [1, 0], owners + [i, i]
    return texts, labels, owners


@dataclass(frozen=True)
class ErasureInputs:
    """What the erasers fit on (captions of the first half of the images, labelled, `labelled_texts`) and the
    (image, true text, false text, kind) presence and absence pairs of the second half they are measured on."""

    texts: list[str]
    labels: list[int]
    pairs: list[tuple[int, str, str, str]]

    @classmethod
    def split(cls, negs: list[ImageNegations], k: int) -> ErasureInputs:
        """Even images fit, odd images are measured; `k` pairs of each kind per image."""
        texts, labels, _ = labelled_texts(negs, range(0, len(negs), 2), k)
        pairs = [(i, t, f, kind) for i in range(1, len(negs), 2) for kind in ("presence", "absence")
                 for t, f in getattr(negs[i], kind)[:k]]
        return cls(texts, labels, pairs)

    @property
    def pair_texts(self) -> list[str]:
        """Every pair's true then false text."""
        return [t for _, a, b, _ in self.pairs for t in (a, b)]


def leace_run(model: ClipBundle, inputs: ErasureInputs, image_feats: torch.Tensor, batch_size: int = 256,
              progress: bool = False) -> ErasureRun:
    """The LEACE eraser of each site fitted on `inputs`' texts, measured on its pairs.

    Args:
        model: the model.
        inputs: the fitting texts and the measured pairs.
        image_feats: the model's image features, one row per image of the negations.
        batch_size: captions per forward pass.
        progress: show a progress bar.

    Returns:
        The run: each pair's scores before erasure and with each site erased in turn.
    """
    erasers = fit_erasers(model, inputs.texts, inputs.labels, batch_size=batch_size)
    encoded = erase_texts(model, erasers["leace"], inputs.pair_texts, batch_size=batch_size, progress=progress)
    return pair_run(encoded, inputs.pairs, image_feats)
