"""Token attribution: layer integrated gradients on the token-embedding layer of S(I, T), Captum's Gauss-Legendre
rule (`integrated.path_attributions`).

Baseline: the caption's special tokens (start, end) are kept and every word token is replaced by the
padding id (the end-of-text id for CLIP tokenizers). Position embeddings, the attention mask and the pooled
position are the caption's own, so the baseline is "a caption of this length with no words", and the
attributions of the special tokens are exactly zero. Each row's convergence delta is
sum(attributions) - (S(I, T) - S(I, baseline)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..data.negation import NEGATORS
from ..models import ClipBundle
from ..progress import tqdm
from .integrated import path_attributions
from .score import similarity_at

NEGATION_WORDS = NEGATORS | {"absolutely"}


@dataclass
class TokenAttribution:
    """Integrated-gradient attribution of S(I, T) to each token of one text."""

    text: str
    tokens: list[str]
    attributions: list[float]
    score: float
    baseline_score: float
    delta: float

    @property
    def negation_mask(self) -> np.ndarray:
        """True for the tokens that are negation words."""
        return np.array([t.lower() in NEGATION_WORDS for t in self.tokens])

    def negation_share(self) -> float:
        """Share of the total absolute attribution that falls on negation words."""
        a = np.abs(np.asarray(self.attributions))
        total = a.sum()
        return float(a[self.negation_mask].sum() / total) if total > 0 else 0.0

    def to_dict(self) -> dict:
        """JSON-ready fields, with the negation share."""
        return {**asdict(self), "negation_share": self.negation_share()}


def pad_baseline(bundle: ClipBundle, input_ids: torch.Tensor) -> torch.Tensor:
    """Baseline ids: the special tokens kept, every word token set to the padding id."""
    special = torch.tensor(sorted(bundle.special_ids), device=input_ids.device)
    words = ~torch.isin(input_ids, special)
    return torch.where(words, torch.full_like(input_ids, bundle.pad_token_id), input_ids)


def token_attributions(
    bundle: ClipBundle,
    texts: Sequence[str],
    image_feats: torch.Tensor,
    steps: int = 32,
    batch_size: int = 16,
    progress: bool = False,
) -> list[TokenAttribution]:
    """Attribute S(image_feats[i], texts[i]) to the tokens of each text with layer integrated gradients on the token
    embeddings; texts of similar token length share a forward pass."""
    texts = list(texts)
    if len(texts) != len(image_feats):
        raise ValueError(f"got {len(texts)} texts but {len(image_feats)} image feature rows; pass one image per text")
    tok = bundle.tokenize(texts)
    embed = bundle.token_embedding

    def install(fn):
        return embed.register_forward_hook(lambda module, args, output: fn(output))

    out: dict[int, TokenAttribution] = {}
    for rows, batch in tqdm(bundle.length_batches(tok, batch_size), total=-(-len(texts) // batch_size), desc="token IG",
                            disable=not progress, leave=False):
        ids, mask = (batch[k].to(bundle.device) for k in ("input_ids", "attention_mask"))
        pooled = bundle.pool_positions(ids)
        img = image_feats[rows].to(bundle.device)
        base = pad_baseline(bundle, ids)
        with torch.no_grad():
            score, base_score = similarity_at(bundle, torch.cat([ids, base]), mask.repeat(2, 1), pooled.repeat(2),
                                              img.repeat(2, 1)).cpu().split(len(rows))
            start_states, end_states = embed(base), embed(ids)
        per_token = path_attributions(bundle, install, ids, mask, pooled, img, start_states, end_states, steps).cpu()
        delta = per_token.sum(1) - (score - base_score)
        for b, i in enumerate(rows.tolist()):
            n = int(mask[b].sum())
            out[i] = TokenAttribution(
                text=texts[i],
                tokens=bundle.token_names(ids[b, :n].tolist()),
                attributions=per_token[b, :n].tolist(),
                score=float(score[b]),
                baseline_score=float(base_score[b]),
                delta=float(delta[b]),
            )
    return [out[i] for i in range(len(texts))]
