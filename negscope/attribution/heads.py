"""Attention heads and negation: per (block, head), how much of the negation effect a head carries and where it looks.

Every edit acts on one head's output at the pooled position (the end-of-text token for CLIP, the last position for
SigLIP), on pairs of captions that differ by a negation (positive, negated), each scored against its image:

- ``patching``: the receiver caption runs with the head's pooled output taken from the donor's; the share of the
  donor-receiver gap it recreates (`patching.recreated_share`), positive into negated and back, averaged;
- ``zero`` / ``mean``: both captions run with the head's pooled output set to zero, or to its mean over every
  caption of the pairs; the share of the negation effect S(I, positive) - S(I, negated) it removes;
- ``attention_pooled`` / ``attention_object``: in the negated caption, the attention from the pooled token, and the
  mean attention from the negated object's tokens (those after the negator through the end of what it negates),
  to the negator's last token.

In a causal tower (CLIP) an edit at the pooled position changes no other position, so an edited run recomputes only
the pooled row from the edited block on, against the clean run's keys and values (`_rerun_pooled`); a non-causal
tower (SigLIP) reruns every position with the edit hooked in (`_rerun_full`). The tests check that both give the
same scores on a causal tower.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.negation import negation_scope
from ..models import ClipBundle
from ..models.attention import BlockParts, HeadStates
from ..progress import tqdm
from ..results.heads import HEAD_MEASURES, HeadMap
from ..stats import image_resamples
from .patching import recreated_share

EDITS = ("patch", "zero", "mean")  # the order of the edits within a block's batch of edited runs
CAPTIONS = ("pos", "neg")


@dataclass
class HeadScores:
    """Per pair: the clean scores S(I, positive) and S(I, negated); per edit and receiver caption, the scores with one
    head's pooled output edited (pairs, blocks, heads); per attention measure, (pairs, blocks, heads)."""

    pos: np.ndarray
    neg: np.ndarray
    edited: dict[str, dict[str, np.ndarray]]
    attention: dict[str, np.ndarray] = field(default_factory=dict)

    def measures(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every measure of `HEAD_MEASURES` as a blocks × heads array, over `rows` of the pairs (default: all)."""
        rows = np.arange(len(self.pos)) if rows is None else rows
        pos, neg = self.pos[rows], self.neg[rows]
        edited = {e: {c: v[rows] for c, v in by.items()} for e, by in self.edited.items()}
        shape = edited["patch"]["pos"].shape[1:]

        def share(effect: np.ndarray, gap: np.ndarray) -> np.ndarray:
            return recreated_share(effect.reshape(len(gap), -1), gap).reshape(shape)

        gap = (pos - neg)[:, None, None]
        out = {"patching": (share(edited["patch"]["pos"] - pos[:, None, None], neg - pos)
                            + share(edited["patch"]["neg"] - neg[:, None, None], pos - neg)) / 2}
        for kind in ("zero", "mean"):
            out[kind] = share(gap - (edited[kind]["pos"] - edited[kind]["neg"]), pos - neg)
        with warnings.catch_warnings():  # a head with no object token in any row is NaN, without a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            for where, values in self.attention.items():
                out[f"attention_{where}"] = np.nanmean(values[rows], axis=0)
        return out


@dataclass
class _Clean:
    """One clean run of a batch of captions: tokens, pooled positions, scores and, per block, the block's input and
    the heads' outputs at the pooled position, and its keys and values."""

    tokens: dict[str, torch.Tensor]
    pooled: torch.Tensor
    scores: torch.Tensor
    inputs: list[torch.Tensor] = field(default_factory=list)
    z: list[torch.Tensor] = field(default_factory=list)
    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)
    attention: dict[str, list[torch.Tensor]] = field(default_factory=dict)


def _score(feats: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    return (torch.nn.functional.normalize(feats.float(), dim=-1) * img).sum(-1)


def _negator_attention(states: HeadStates, pooled: torch.Tensor, negator: torch.Tensor, end: torch.Tensor
                       ) -> dict[str, torch.Tensor]:
    """(batch, heads) attention to the negator: from the pooled token, and the mean from the object's tokens."""
    probs = states.attention  # (batch, heads, query, key)
    b, h, t, _ = probs.shape
    column = probs.gather(3, negator.view(b, 1, 1, 1).expand(b, h, t, 1))[..., 0]  # (batch, heads, query)
    at_pooled = column.gather(2, pooled.view(b, 1, 1).expand(b, h, 1))[..., 0]
    query = torch.arange(t, device=probs.device)[None]
    objects = ((query > negator[:, None]) & (query <= end[:, None])).to(column.dtype)
    from_objects = (column * objects[:, None]).sum(-1) / objects.sum(-1, keepdim=True)
    return {"pooled": at_pooled, "object": from_objects}


def _clean_run(bundle: ClipBundle, texts: Sequence[str], img: torch.Tensor, caches: bool,
               negator: torch.Tensor | None = None, end: torch.Tensor | None = None) -> _Clean:
    """Run `texts` with hooks that keep, per block, what the edited runs need (and the attention to the negator)."""
    tokens = {k: v.to(bundle.device) for k, v in bundle.tokenize(texts).items()}
    pooled = bundle.pool_positions(tokens["input_ids"])
    rows = torch.arange(len(pooled), device=pooled.device)
    run = _Clean(tokens, pooled, torch.empty(0))
    handles = []

    def keep_input(state: torch.Tensor) -> None:
        run.inputs.append(state[rows, pooled])

    def keep_heads(states: HeadStates) -> None:
        run.z.append(states.z[rows, pooled])
        if caches:
            run.keys.append(states.k)
            run.values.append(states.v)
        if negator is not None:
            for where, values in _negator_attention(states, pooled, negator, end).items():
                run.attention.setdefault(where, []).append(values)

    try:
        for block, site in enumerate(bundle.sites[:-1]):
            handles.append(bundle.hook_site(site, keep_input))
            handles.append(bundle.hook_heads(block, keep_heads))
        run.scores = _score(bundle.text_features(tokens), img)
    finally:
        for h in handles:
            h.remove()
    return run


def _pooled_block(parts: BlockParts, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                  pooled: torch.Tensor) -> torch.Tensor:
    """Block `parts` on the pooled rows `x` (batch, edits, width) of a causal tower, every other position's keys and
    values those of the clean run (batch, tokens, heads, head width)."""
    q, k, v = parts.project_in(parts.ln1(x))
    scale = parts.head_dim ** -0.5
    position = torch.arange(keys.shape[1], device=x.device)[None]
    at_pooled = (position == pooled[:, None])[:, None, None, :]
    later = (position > pooled[:, None])[:, None, None, :]
    scores = torch.einsum("bmhd,bthd->bmht", q, keys) * scale
    scores = torch.where(at_pooled, (q * k).sum(-1, keepdim=True) * scale, scores).masked_fill(later, float("-inf"))
    attention = scores.softmax(-1)
    own = (attention * at_pooled).sum(-1, keepdim=True)
    z = torch.einsum("bmht,bthd->bmhd", attention.masked_fill(at_pooled, 0.0), values) + own * v
    return parts.mlp_branch(x + parts.ls1(parts.project_out(z)))


def _rerun_pooled(bundle: ClipBundle, parts: list[BlockParts], run: _Clean, block: int, change: torch.Tensor,
                  img: torch.Tensor) -> torch.Tensor:
    """Scores (batch, edits) with the heads' pooled outputs of `block` changed by `change` (batch, edits, heads, head
    width), recomputing only the pooled row (causal towers)."""
    p = parts[block]
    after = run.inputs[block] + p.ls1(p.project_out(run.z[block]))
    x = p.mlp_branch(after[:, None] + p.ls1(p.project_out(change, bias=False)))
    for j in range(block + 1, len(parts)):
        x = _pooled_block(parts[j], x, run.keys[j], run.values[j], run.pooled)
    return _score(bundle.pooled_feature(x), img[:, None])


def _rerun_full(bundle: ClipBundle, run: _Clean, block: int, change: torch.Tensor, img: torch.Tensor,
                batch_size: int) -> torch.Tensor:
    """`_rerun_pooled` by full forward passes with the change hooked in: any tower."""
    b, m = change.shape[:2]
    out = torch.empty(b, m, device=img.device)
    for start in range(0, m, max(1, batch_size // b)):
        edits = range(start, min(m, start + max(1, batch_size // b)))
        delta = change[:, edits.start:edits.stop].transpose(0, 1).reshape(len(edits) * b, *change.shape[2:])
        pooled = run.pooled.repeat(len(edits))
        rows = torch.arange(len(pooled), device=pooled.device)

        def edit(states: HeadStates, delta=delta, pooled=pooled, rows=rows) -> torch.Tensor:
            z = states.z.clone()
            z[rows, pooled] += delta
            return z

        handle = bundle.hook_heads(block, edit)
        try:
            feats = bundle.text_features({k: v.repeat(len(edits), 1) for k, v in run.tokens.items()})
        finally:
            handle.remove()
        out[:, edits.start:edits.stop] = _score(feats, img.repeat(len(edits), 1)).view(len(edits), b).T
    return out


def _mean_outputs(bundle: ClipBundle, texts: Sequence[str], batch_size: int) -> list[torch.Tensor]:
    """Per block, every head's pooled output averaged over `texts` (heads, head width)."""
    sums: list[torch.Tensor] = []
    for s in range(0, len(texts), batch_size):
        chunk = texts[s:s + batch_size]
        run = _clean_run(bundle, chunk, torch.zeros(len(chunk), 1, device=bundle.device), caches=False)
        sums = [z.sum(0) + (sums[i] if sums else 0) for i, z in enumerate(run.z)]
    return [t / len(texts) for t in sums]


def head_scores(
    bundle: ClipBundle,
    positive: Sequence[str],
    negated: Sequence[str],
    image_feats: torch.Tensor,
    negator: Sequence[int],
    scope_end: Sequence[int],
    batch_size: int = 32,
    full: bool = False,
    progress: bool = False,
) -> HeadScores:
    """Score every pair with each head's pooled output patched, zeroed and mean-ablated, block by block.

    Args:
        bundle: the model.
        positive: per pair, the positive caption.
        negated: per pair, the negated caption.
        image_feats: per pair, its image's normalised feature.
        negator: per pair, the position of the negator's last token in the negated caption.
        scope_end: per pair, the position of the last token the negator negates.
        batch_size: pairs per batch.
        full: rerun every position even where the tower is causal (the check of the fast path).
        progress: show a progress bar.

    Returns:
        The `HeadScores`.
    """
    positive, negated = list(positive), list(negated)
    if not (len(positive) == len(negated) == len(image_feats) == len(negator) == len(scope_end)):
        raise ValueError("positive, negated, image_feats, negator and scope_end must have one entry per pair")
    blocks, heads = len(bundle.text_layers), bundle.heads
    parts = [bundle.block_parts(b) for b in range(blocks)]
    pooled_rows = not full and bundle.causal_text
    n = len(positive)
    edited = {e: {c: np.zeros((n, blocks, heads)) for c in CAPTIONS} for e in EDITS}
    attention = {w: np.zeros((n, blocks, heads)) for w in ("pooled", "object")}
    clean = {c: np.zeros(n) for c in CAPTIONS}
    pick = torch.eye(heads, device=bundle.device)[:, :, None]  # (edited head, head, 1)
    with torch.no_grad():
        means = _mean_outputs(bundle, positive + negated, batch_size)
        for s in tqdm(range(0, n, batch_size), desc="heads", disable=not progress, leave=False):
            sl = slice(s, s + batch_size)
            img = image_feats[sl].to(bundle.device)
            neg_at, end_at = (torch.as_tensor(v[sl], device=bundle.device) for v in (negator, scope_end))
            runs = {"pos": _clean_run(bundle, positive[sl], img, pooled_rows),
                    "neg": _clean_run(bundle, negated[sl], img, pooled_rows, neg_at, end_at)}
            for c in CAPTIONS:
                clean[c][sl] = runs[c].scores.cpu().numpy()
            for where, per_block in runs["neg"].attention.items():
                attention[where][sl] = torch.stack(per_block, 1).cpu().numpy()
            for block in range(blocks):
                for c, donor in zip(CAPTIONS, reversed(CAPTIONS)):
                    z = runs[c].z[block]  # (batch, heads, head width)
                    targets = (runs[donor].z[block], torch.zeros_like(z), means[block].expand_as(z))
                    # edit e on head h: row (e, h) changes head h only, by the target minus the clean output
                    change = torch.cat([(t - z)[:, None] * pick for t in targets], 1)
                    scores = (_rerun_pooled(bundle, parts, runs[c], block, change, img) if pooled_rows
                              else _rerun_full(bundle, runs[c], block, change, img, batch_size * heads))
                    for e, edit_scores in zip(EDITS, scores.view(len(z), len(EDITS), heads).unbind(1)):
                        edited[e][c][sl, block] = edit_scores.cpu().numpy()
    return HeadScores(clean["pos"], clean["neg"], edited, attention)


def negation_positions(bundle: ClipBundle, negated: Sequence[str], names: Sequence[Sequence[str]]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per negated caption, the token positions of its negator's last token and of the last token it negates
    (`data.negation.negation_scope`).

    Args:
        bundle: the model whose tokenizer counts the positions.
        negated: the negated captions.
        names: per caption, the objects it may negate.

    Returns:
        (negator positions, scope-end positions).
    """
    spans = [negation_scope(t, n) for t, n in zip(negated, names)]
    missing = [t for t, span in zip(negated, spans) if span is None]
    if missing:
        raise ValueError(f"{len(missing)} negated caption(s) hold no negator word, e.g. {missing[0]!r}; head analysis "
                         "needs pairs whose negated caption says no, not, without, ...: use pairs = presence or seed")
    ends = [bundle.prefix_ends([t[:span[i]] for t, span in zip(negated, spans)]).numpy() for i in (0, 1)]
    return ends[0], ends[1]


def head_maps(model: HeadScores, copies: Sequence[HeadScores], images: Sequence, resamples: int = 200,
              seed: int = 0) -> dict[str, HeadMap]:
    """Per measure, the model's blocks × heads values against the untrained copies' mean, with the 95% interval of the
    difference when whole images are resampled (every model on the same draws) and the copies are resampled too, as
    `results.evidence.BlockEvidence` does.

    Args:
        model: the model's scores.
        copies: each untrained copy's scores on the same pairs.
        images: per pair, its image id.
        resamples: image resamples for the intervals.
        seed: the seed of the draws.

    Returns:
        One `HeadMap` per measure of `HEAD_MEASURES`.
    """
    def measured(rows: np.ndarray | None) -> tuple[dict, list[dict]]:
        return model.measures(rows), [c.measures(rows) for c in copies]

    def untrained(others: list[dict], pick: np.ndarray) -> dict:
        return {k: np.mean([others[i][k] for i in pick], axis=0) if len(pick) else np.zeros(v.shape)
                for k, v in own.items()}

    def difference(mine: dict, others: list[dict], pick: np.ndarray) -> dict:
        return {k: mine[k] - v for k, v in untrained(others, pick).items()}

    own, others = measured(None)
    base = untrained(others, np.arange(len(copies)))
    # each draw resamples the images and, among the copies, which random draws of weights stand for "untrained"
    picks = np.random.default_rng([seed, 1]).integers(0, max(len(copies), 1), size=(resamples, len(copies)))
    draws = [difference(*measured(rows), pick) for rows, pick in zip(image_resamples(images, resamples, seed), picks)]
    maps = {}
    for k in HEAD_MEASURES:
        stacked = np.stack([d[k] for d in draws])
        low, high = np.nanpercentile(stacked, 2.5, axis=0), np.nanpercentile(stacked, 97.5, axis=0)
        maps[k] = HeadMap(HEAD_MEASURES[k], own[k].tolist(), base[k].tolist(), (own[k] - base[k]).tolist(),
                          low.tolist(), high.tolist())
    return maps
