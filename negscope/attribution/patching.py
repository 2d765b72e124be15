"""Activation patching: rerun a receiver caption with one site's states taken from a donor caption.

Positions patched (`positions`):

- ``eos``: only the pooled position (the end-of-text token for CLIP, the last position for SigLIP). The
  receiver's state there is replaced by the donor's state at the donor's pooled position, so captions of
  different lengths can be patched.
- ``context``: every real token except the pooled one, position by position; pairs must have the same
  token length.
- ``all``: every real token and the pooled position; pairs must have the same token length. In a causal text
  encoder (CLIP) patching a site this way reproduces the donor's output exactly, which makes it the
  machinery's sanity check.

Pairs of different token lengths are not aligned for ``context``/``all``: they are refused (callers keep the
equal-length pairs; presence negations swap "a X" for "no X", so they keep their length).

The measure is the share of the receiver-to-donor change that a patch recreates. Per pair it is
(S_patched - S_receiver) / (S_donor - S_receiver); averaged over pairs as
sum(sign(g) * (S_patched - S_receiver)) / sum(|g|) with g = S_donor - S_receiver, i.e. a gap-weighted mean
that stays finite when a pair's gap is close to zero.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from ..hooks.capture import capture_text_states
from ..models import ClipBundle, Site
from ..progress import tqdm
from ..results import CurvePoint
from ..stats import bootstrap

POSITIONS = ("eos", "context", "all")


@contextmanager
def patched_site(bundle: ClipBundle, site: Site | str, values: torch.Tensor, where: torch.Tensor) -> Iterator[None]:
    """Within the `with` block, `site` takes `values` (batch, tokens, width) wherever `where` is True."""
    name = bundle.site(site).name

    def patch(state: torch.Tensor) -> torch.Tensor:
        if state.shape != values.shape:
            raise ValueError(f"patch values for {name} have shape {tuple(values.shape)}, the site holds {tuple(state.shape)}")
        return torch.where(where[..., None].to(state.device), values.to(state.device, state.dtype), state)

    handle = bundle.hook_site(name, patch)
    try:
        yield
    finally:
        handle.remove()


@dataclass
class PatchResult:
    """Receiver, donor and patched similarities for each pair (rows) and site (columns, in the order of `sites`)."""

    sites: list[str]
    positions: str
    receiver: np.ndarray
    donor: np.ndarray
    patched: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """S_donor - S_receiver per pair."""
        return self.donor - self.receiver

    @property
    def effect(self) -> np.ndarray:
        """S_patched - S_receiver per pair and site."""
        return self.patched - self.receiver[:, None]

    def curve(self, images: Sequence, resamples: int = 1000, seed: int = 0) -> list[CurvePoint]:
        """Per site: the gap-weighted share recreated, with a 95% interval over whole images (`images`: per pair, its
        image id)."""
        def share(idx: np.ndarray) -> np.ndarray:
            return recreated_share(self.effect[idx], self.gap[idx])

        low, high = bootstrap(share, images, resamples, seed)
        return [
            CurvePoint(n, float(s), float(lo), float(hi))
            for n, s, lo, hi in zip(self.sites, share(np.arange(len(self.gap))), low, high)
        ]


def both_ways_share(runs: Sequence[PatchResult], rows: np.ndarray | None = None) -> np.ndarray:
    """Per site, the recreated share averaged over the runs (the directions) on `rows` of the pairs (default: all)."""
    return np.mean([recreated_share(r.effect if rows is None else r.effect[rows], r.gap if rows is None else r.gap[rows])
                    for r in runs], axis=0)


def recreated_share(effect: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Gap-weighted mean of effect/gap over pairs: sum(sign(gap) * effect) / sum(|gap|), per site."""
    return (np.sign(gap)[:, None] * effect).sum(0) / max(np.abs(gap).sum(), 1e-12)


def _scores(bundle: ClipBundle, tok: dict[str, torch.Tensor], img: torch.Tensor) -> torch.Tensor:
    return (bundle.text_embeds(tok) * img).sum(-1)


def patch_pairs(
    bundle: ClipBundle,
    receivers: Sequence[str],
    donors: Sequence[str],
    image_feats: torch.Tensor,
    positions: str = "eos",
    sites: Sequence[Site | str] | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> PatchResult:
    """Score each receiver with each site's states (at `positions`) replaced by its donor's."""
    if positions not in POSITIONS:
        raise ValueError(f"positions {positions!r} is unknown; choose one of {POSITIONS}")
    if not (len(receivers) == len(donors) == len(image_feats)):
        raise ValueError("receivers, donors and image_feats must have one entry per pair")
    names = [bundle.site(s).name for s in (bundle.sites if sites is None else sites)]
    n = len(receivers)
    receiver, donor, patched = np.zeros(n), np.zeros(n), np.zeros((n, len(names)))
    bar = tqdm(total=n, desc=f"patching ({positions})", disable=not progress, leave=False)
    with torch.no_grad():
        for s in range(0, n, batch_size):
            sl = slice(s, s + batch_size)
            img = image_feats[sl].to(bundle.device)
            r_tok = bundle.tokenize(receivers[sl])
            d_tok = bundle.tokenize(donors[sl])
            r_len, d_len = r_tok["attention_mask"].sum(1), d_tok["attention_mask"].sum(1)
            if positions != "eos" and not torch.equal(r_len, d_len):
                i = s + int(torch.nonzero(r_len != d_len)[0, 0])
                raise ValueError(
                    f"pair {i} ({receivers[i]!r} / {donors[i]!r}) differs in token length; positions={positions!r} "
                    "needs equal-length pairs: filter them first or use positions='eos'"
                )
            pools = ("eos",) if positions == "eos" else ("eos", "tokens")
            with capture_text_states(bundle, names, pools=pools) as cap:
                donor[sl] = _scores(bundle, d_tok, img).cpu().numpy()
            receiver[sl] = _scores(bundle, r_tok, img).cpu().numpy()
            pooled_states = cap.pooled("eos")
            tokens = cap.tokens() if positions != "eos" else {}
            width = r_tok["input_ids"].shape[1]
            pos = torch.arange(width)[None, :]
            rows = torch.arange(len(r_len))
            r_pool = bundle.pool_positions(r_tok["input_ids"])
            at_pool = pos == r_pool[:, None]
            real = pos < r_len[:, None]
            where = {"eos": at_pool, "context": real & ~at_pool, "all": real | at_pool}[positions]
            for j, name in enumerate(names):
                values = torch.zeros(len(r_len), width, pooled_states[name].shape[-1])
                for b, h in enumerate(tokens.get(name, ())):
                    values[b, : len(h)] = h
                values[rows, r_pool] = pooled_states[name].to(values.dtype)
                with patched_site(bundle, name, values, where):
                    patched[sl, j] = _scores(bundle, r_tok, img).cpu().numpy()
            bar.update(len(r_len))
    bar.close()
    return PatchResult(names, positions, receiver, donor, patched)


def patch_both_ways(bundle: ClipBundle, pos: list[str], neg: list[str], feats: torch.Tensor, positions: str,
                    progress: bool = False) -> dict[str, PatchResult]:
    """Patch positive into negated captions (forward) and back (reverse)."""
    return {direction: patch_pairs(bundle, receivers, donors, feats, positions=positions, progress=progress)
            for direction, (receivers, donors) in (("forward", (pos, neg)), ("reverse", (neg, pos)))}
