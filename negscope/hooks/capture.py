"""Capture text-encoder states at named sites with forward hooks, in one forward pass for all sites.

Usage::

    with capture_text_states(bundle, sites=None, pools=("eos", "mean"), dtype=torch.float16) as cap:
        bundle.encode_text(captions)          # any text forward pass: encode_text, text_embeds, ...
    eos = cap.pooled("eos")                   # {"text.embed": (N, D), "text.block.0": (N, D), ...}

or, in one call, ``text_states(bundle, captions)``. Pools:

- ``eos``: the state at the position the model pools (`ClipBundle.pool_positions`: the first end-of-text
  token for CLIP, the last position for SigLIP);
- ``mean``: the mean over real tokens (start token through the first end-of-text token);
- ``anchor``: the state at each caption's own token position, given as ``anchors`` (one per caption, in the order
  the captions are encoded; for example an object's last token, `ClipBundle.prefix_ends`);
- ``tokens``: every real token, one (length, D) tensor per caption.

States are detached, moved to CPU and cast to `dtype`. Hooks are removed when the block exits, also on error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

from ..models import ClipBundle, Site

POOLS = ("eos", "mean", "anchor", "tokens")


class TextStates:
    """What `capture_text_states` recorded: per site and pool, one entry per forward pass."""

    def __init__(self, bundle: ClipBundle, sites: list[str], pools: tuple[str, ...], dtype: torch.dtype,
                 anchors: torch.Tensor | None = None) -> None:
        self.bundle = bundle
        self.anchors = anchors
        self._anchor: torch.Tensor | None = None
        self._seen = 0
        self.sites = sites
        self.pools = pools
        self.dtype = dtype
        self._pooled: torch.Tensor | None = None
        self._real: torch.Tensor | None = None
        self._lengths: list[torch.Tensor] = []
        self._parts: dict[tuple[str, str], list[torch.Tensor]] = {(p, n): [] for p in pools for n in sites}

    def __len__(self) -> int:
        return int(sum(len(x) for x in self._lengths))

    def pooled(self, pool: str = "eos") -> dict[str, torch.Tensor]:
        """{site name: (captions, width)} for the `eos`, `mean` or `anchor` pool, captions in forward order."""
        if pool not in self.pools or pool == "tokens":
            raise ValueError(f"pool {pool!r} was not captured as a pooled state; captured pools are {self.pools}")
        return {n: _cat(self._parts[(pool, n)]) for n in self.sites}

    def tokens(self) -> dict[str, list[torch.Tensor]]:
        """{site name: one (real tokens, width) tensor per caption}; needs pools to include 'tokens'."""
        if "tokens" not in self.pools:
            raise ValueError(f"token states were not captured; pass pools=(..., 'tokens'), not {self.pools}")
        lengths = torch.cat(self._lengths).tolist() if self._lengths else []
        out = {}
        for n in self.sites:
            rows = [row for part in self._parts[("tokens", n)] for row in part]
            out[n] = [row[:k] for row, k in zip(rows, lengths)]
        return out

    def clear(self) -> None:
        """Drop everything recorded so far (for streaming: capture a batch, save it, clear)."""
        self._lengths.clear()
        for parts in self._parts.values():
            parts.clear()

    def seek(self, caption: int) -> None:
        """Take the anchors from caption `caption` on at the next forward pass (a capture that skips captions)."""
        self._seen = caption

    def _start(self, input_ids: torch.Tensor) -> None:
        self._pooled = self.bundle.pool_positions(input_ids)
        lengths = self.bundle.real_lengths(input_ids)
        self._real = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :] < lengths[:, None]
        self._lengths.append(lengths.cpu())
        if self.anchors is not None:
            self._anchor = self._anchors_of(lengths.cpu())

    def _anchors_of(self, lengths: torch.Tensor) -> torch.Tensor:
        """The anchors of the batch now starting, checked against its captions' lengths; counts the batch as seen."""
        first, self._seen = self._seen, self._seen + len(lengths)
        if self._seen > len(self.anchors):
            raise ValueError(f"{self._seen} captions were encoded but only {len(self.anchors)} anchors given; "
                             "give one anchor per caption")
        at = self.anchors[first : self._seen]
        bad = torch.nonzero((at < 0) | (at >= lengths)).flatten()
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"position {int(at[i])} is outside caption {first + i} ({int(lengths[i])} tokens); "
                             "give a position inside the caption's own tokens")
        return at

    def _record(self, name: str, hidden: torch.Tensor) -> None:
        h = hidden.detach()
        if "eos" in self.pools:
            pooled = self._pooled.to(h.device)
            self._parts[("eos", name)].append(h[torch.arange(h.shape[0], device=h.device), pooled].to("cpu", self.dtype))
        if "mean" in self.pools:
            real = self._real.to(h.device, h.dtype)
            mean = (h * real[..., None]).sum(1) / real.sum(1, keepdim=True)
            self._parts[("mean", name)].append(mean.to("cpu", self.dtype))
        if "anchor" in self.pools:
            at = self._anchor.to(h.device)
            self._parts[("anchor", name)].append(h[torch.arange(h.shape[0], device=h.device), at].to("cpu", self.dtype))
        if "tokens" in self.pools:
            self._parts[("tokens", name)].append(h.to("cpu", self.dtype, copy=True))


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    if not parts:
        raise ValueError("nothing was captured; run a text forward pass (e.g. bundle.encode_text) inside the block")
    return torch.cat(parts)


def _select(bundle: ClipBundle, sites: Sequence[Site | str] | None) -> list[str]:
    if sites is None:
        return [s.name for s in bundle.sites]
    chosen = sorted({bundle.site(s) for s in sites})
    if not chosen:
        raise ValueError("sites is empty; pass None for every site or at least one site name such as 'text.block.0'")
    return [s.name for s in chosen]


@contextmanager
def capture_text_states(
    bundle: ClipBundle,
    sites: Sequence[Site | str] | None = None,
    pools: Sequence[str] = ("eos",),
    dtype: torch.dtype = torch.float32,
    anchors: Sequence[int] | torch.Tensor | None = None,
) -> Iterator[TextStates]:
    """Record the states at `sites` (Site objects or names; None = all) during text forward passes.

    Args:
        bundle: the model.
        sites: Site objects or names; None for every site.
        pools: one or more of `POOLS`.
        dtype: the dtype states are stored in.
        anchors: for the `anchor` pool, one token position per caption, in the order the captions are encoded.

    Returns:
        A context manager yielding the `TextStates` the forward passes inside the block fill.
    """
    pools = (pools,) if isinstance(pools, str) else tuple(dict.fromkeys(pools))
    bad = [p for p in pools if p not in POOLS]
    if bad or not pools:
        raise ValueError(f"unknown or missing pools {bad or list(pools)}; choose one or more of {POOLS}")
    if dtype not in (torch.float16, torch.float32, torch.bfloat16):
        raise ValueError(f"dtype {dtype} is not a float type for stored states; use torch.float16 or torch.float32")
    if ("anchor" in pools) != (anchors is not None):
        raise ValueError("the 'anchor' pool and anchors go together: pass anchors (one position per caption) with it, "
                         "and only with it")
    names = _select(bundle, sites)
    states = TextStates(bundle, names, pools, dtype, None if anchors is None else torch.as_tensor(anchors).long().cpu())

    def recorder(name: str):
        return lambda state: states._record(name, state)

    handles = [bundle.hook_token_ids(states._start)]
    try:
        for name in names:
            handles.append(bundle.hook_site(name, recorder(name)))
        yield states
    finally:
        for h in handles:
            h.remove()


def text_states(
    bundle: ClipBundle,
    captions: Sequence[str],
    sites: Sequence[Site | str] | None = None,
    pool: str = "eos",
    dtype: torch.dtype = torch.float32,
    batch_size: int = 256,
    progress: bool = False,
    anchors: Sequence[int] | torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """{site name: (captions, width)} pooled states of `captions`, from one batched forward pass per batch (`anchors`:
    one token position per caption, for the `anchor` pool)."""
    with capture_text_states(bundle, sites, pools=(pool,), dtype=dtype, anchors=anchors) as cap:
        bundle.encode_text(captions, batch_size=batch_size, progress=progress)
    return cap.pooled(pool)


def states_at(
    bundle: ClipBundle,
    captions: Sequence[str],
    positions: Sequence[int] | torch.Tensor,
    sites: Sequence[Site | str] | None = None,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 256,
) -> dict[str, torch.Tensor]:
    """{site name: (captions, width)}: each caption's state at its own token position `positions[i]` (the `anchor` pool)."""
    captions = list(captions)
    if len(positions) != len(captions):
        raise ValueError(f"got {len(positions)} positions for {len(captions)} captions; give one position per caption")
    return text_states(bundle, captions, sites, pool="anchor", dtype=dtype, batch_size=batch_size, anchors=positions)
