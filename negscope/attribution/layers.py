"""Per-site attribution of the negation gap S(I, negated) - S(I, positive).

For a pair whose captions have the same token length (a presence negation swaps "a X" for "no X"), layer
integrated gradients at a site (Captum's Gauss-Legendre rule, `integrated.path_attributions`) run from the
positive caption's states (baseline) to the negated caption's states (input), so their attributions sum to the
gap at every site (the convergence delta says how closely). What differs between sites is *where* the gap sits:
at `text.embed` it is all on the changed token(s); at the last block's output it is all on the pooled EOS state.
Block k's importance is the share of the gap's absolute attribution that block k moves onto the EOS position:

    importance_k = eos_share(output site of block k) - eos_share(input site of block k)

so the importances of all blocks sum to eos_share(last) - eos_share(embeddings) = 1 - 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ..models import ClipBundle, block_gains
from ..progress import tqdm
from .integrated import bare_blocks, path_attributions, site_states


@dataclass
class LayerAttribution:
    """Per pair (rows) and site (columns, in the order of `sites`): how the gap is attributed."""

    sites: list[str]
    gap: np.ndarray
    total: np.ndarray
    delta: np.ndarray
    eos_share: np.ndarray
    changed_share: np.ndarray

    @property
    def importance(self) -> np.ndarray:
        """Per pair and text block (columns: block 0, 1, ...): the share of the gap's attribution the block moves onto EOS."""
        return block_gains(self.sites, self.eos_share)

    @property
    def resolved(self) -> np.ndarray:
        """Per pair, whether its gap is larger than its largest completeness error over the sites (|delta|). The
        shares of a pair that is not apportion mostly integration error, however small its gap."""
        return np.abs(self.gap) > np.abs(self.delta).max(1)


def pair_tokens(bundle: ClipBundle, positives: Sequence[str], negatives: Sequence[str]) -> dict[str, torch.Tensor]:
    """Positive and negated token ids at a common width; every pair must have the same token length."""
    tok = bundle.tokenize(list(positives) + list(negatives))
    n = len(positives)
    mask = tok["attention_mask"]
    bad = [i for i in range(n) if not torch.equal(mask[i], mask[n + i])]
    if bad:
        i = bad[0]
        raise ValueError(
            f"pair {i} has captions of different token lengths ({positives[i]!r} vs {negatives[i]!r}); "
            "per-site attribution needs aligned pairs, so drop such pairs (see equal_length_pairs)"
        )
    return {"positive": tok["input_ids"][:n], "negative": tok["input_ids"][n:], "attention_mask": mask[:n]}


def equal_length_pairs(bundle: ClipBundle, positives: Sequence[str], negatives: Sequence[str]) -> list[int]:
    """Indices of the pairs whose positive and negated captions have the same number of tokens."""
    lengths = bundle.tokenize(list(positives) + list(negatives))["attention_mask"].sum(1).tolist()
    n = len(positives)
    return [i for i in range(n) if lengths[i] == lengths[n + i]]


def aligned_pairs(
    bundle: ClipBundle, rows: list[int], positives: list[str], negatives: list[str]
) -> tuple[list[int], list[str], list[str]]:
    """The (row, positive, negated) pairs whose captions have the same token length (layer attribution, token-wise patching)."""
    keep = equal_length_pairs(bundle, positives, negatives)
    if not keep:
        raise ValueError("no pair has captions of equal token length; use presence pairs or EOS-only patching")
    return [rows[i] for i in keep], [positives[i] for i in keep], [negatives[i] for i in keep]


def layer_attributions(
    bundle: ClipBundle,
    positives: Sequence[str],
    negatives: Sequence[str],
    image_feats: torch.Tensor,
    steps: int = 32,
    batch_size: int = 16,
    progress: bool = False,
) -> LayerAttribution:
    """Attribute S(I, negatives[i]) - S(I, positives[i]) at every site; pairs of similar token length share the forward
    passes, which read every site's states once and then integrate one site at a time."""
    if not (len(positives) == len(negatives) == len(image_feats)):
        raise ValueError("positives, negatives and image_feats must have one entry per pair")
    sites = [s.name for s in bundle.sites]
    tok = pair_tokens(bundle, positives, negatives)
    blocks = bundle.text_layers if bare_blocks(bundle) else []
    n, width = len(positives), len(sites)
    gap = np.zeros(n)
    total, delta, eos_share, changed_share = (np.zeros((n, width)) for _ in range(4))
    bar = tqdm(total=width * ((n + batch_size - 1) // batch_size), desc="site IG", disable=not progress, leave=False)
    for rows, batch in bundle.length_batches(tok, batch_size):
        idx = rows.numpy()
        pos, neg, mask = (batch[k].to(bundle.device) for k in ("positive", "negative", "attention_mask"))
        pooled = bundle.pool_positions(pos)
        img = image_feats[rows].to(bundle.device)
        states, scores = site_states(bundle, sites, {"input_ids": torch.cat([neg, pos]), "attention_mask": mask.repeat(2, 1)},
                                     pooled.repeat(2), img.repeat(2, 1))
        negated, positive = scores.cpu().split(len(rows))
        g = negated - positive
        gap[idx] = g.numpy()
        changed = (pos != neg).cpu()
        at = torch.arange(len(rows))
        for j, site in enumerate(sites):
            end, begin = states[site].split(len(rows))
            per_pos = path_attributions(bundle, partial(bundle.hook_site, site), neg, mask, pooled, img, begin, end, steps,
                                        skip=blocks[: bundle.site(site).depth]).cpu()
            absolute = per_pos.abs()
            norm = absolute.sum(1).clamp_min(1e-12)
            total[idx, j] = per_pos.sum(1).numpy()
            delta[idx, j] = (per_pos.sum(1) - g).numpy()
            eos_share[idx, j] = (absolute[at, pooled.cpu()] / norm).numpy()
            changed_share[idx, j] = ((absolute * changed).sum(1) / norm).numpy()
            bar.update()
    bar.close()
    return LayerAttribution(sites, gap, total, delta, eos_share, changed_share)
