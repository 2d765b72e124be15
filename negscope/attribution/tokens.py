"""Token attribution: Captum `LayerIntegratedGradients` on the token-embedding layer of S(I, T).

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
from tqdm.auto import tqdm

from ..data.negation import NEGATORS
from ..models import ClipBundle
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
    """Attribute S(image_feats[i], texts[i]) to the tokens of each text with layer integrated gradients."""
    from captum.attr import LayerIntegratedGradients  # captum imports matplotlib.pyplot

    texts = list(texts)
    if len(texts) != len(image_feats):
        raise ValueError(f"got {len(texts)} texts but {len(image_feats)} image feature rows; pass one image per text")
    lig = LayerIntegratedGradients(
        lambda ids, mask, pooled, img: similarity_at(bundle, ids, mask, pooled, img), bundle.token_embedding
    )
    out = []
    for start in tqdm(range(0, len(texts), batch_size), desc="token IG", disable=not progress, leave=False):
        chunk = texts[start : start + batch_size]
        tok = {k: v.to(bundle.device) for k, v in bundle.tokenize(chunk).items()}
        ids, mask = tok["input_ids"], tok["attention_mask"]
        pooled = bundle.pool_positions(ids)
        lengths = mask.sum(1)
        img = image_feats[start : start + batch_size].to(bundle.device)
        base = pad_baseline(bundle, ids)
        attr, delta = lig.attribute(
            ids, baselines=base, additional_forward_args=(mask, pooled, img), n_steps=steps, return_convergence_delta=True
        )
        with torch.no_grad():
            score = similarity_at(bundle, ids, mask, pooled, img)
            base_score = similarity_at(bundle, base, mask, pooled, img)
        per_token = attr.sum(-1).detach().cpu()
        for b, text in enumerate(chunk):
            n = int(lengths[b])
            out.append(
                TokenAttribution(
                    text=text,
                    tokens=bundle.token_names(ids[b, :n].tolist()),
                    attributions=per_token[b, :n].tolist(),
                    score=float(score[b]),
                    baseline_score=float(base_score[b]),
                    delta=float(delta[b]),
                )
            )
    return out
