"""Integrated gradients of S(I, T) along a straight path of one layer's states, the steps of many texts in one
forward and one backward pass.

It computes what Captum's `LayerIntegratedGradients` computes with its default Gauss-Legendre rule (the same
points and weights): (end - start) * sum_k w_k dS/dstate at start + a_k (end - start), but without the passes
Captum adds per call to read the layer at the inputs and baselines and to score them for the convergence delta;
callers read those states once (`site_states`) and score the endpoints themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..models import ClipBundle
from .score import similarity_at

Install = Callable[[Callable[[torch.Tensor], torch.Tensor]], RemovableHandle]


def gauss_legendre(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gauss-Legendre points in (0, 1) and their weights for `steps` steps, as Captum makes them."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return torch.from_numpy(0.5 * (1 + nodes)), torch.from_numpy(0.5 * weights)


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Within the block no parameter of `model` asks for a gradient, so a backward pass reaches only the path's states."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _first(hidden: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return hidden


@contextmanager
def skipped(blocks: Sequence[nn.Module]) -> Iterator[None]:
    """Within the block each of `blocks` passes its input through without computing: blocks that feed only a state
    the path replaces. They must be blocks that return their hidden state as a bare tensor (`bare_blocks`)."""
    for block in blocks:
        block.forward = _first
    try:
        yield
    finally:
        for block in blocks:
            del block.forward


def bare_blocks(bundle: ClipBundle) -> bool:
    """Whether every text block returns its hidden state as a bare tensor (so `skipped` can stand in for it)."""
    kinds: list[bool] = []
    handles = [b.register_forward_hook(lambda m, a, out: kinds.append(isinstance(out, torch.Tensor))) for b in bundle.text_layers]
    try:
        with torch.no_grad():
            bundle.text_embeds(bundle.tokenize(["a"]))
    finally:
        for h in handles:
            h.remove()
    return all(kinds)


def path_attributions(
    bundle: ClipBundle,
    install: Install,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    pooled: torch.Tensor,
    image: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    steps: int,
    skip: Sequence[nn.Module] = (),
) -> torch.Tensor:
    """Per row and position, the integrated gradient of S(image, ids) along the states start -> end (rows, positions,
    width) that `install(fn)` puts in place of one layer's states, summed over the width; the `skip` blocks, which
    only lead up to those states, are not run."""
    alphas, weights = (t.to(bundle.device, start.dtype) for t in gauss_legendre(steps))
    shape = (steps, *start.shape)
    path = (start.unsqueeze(0) + alphas.view(-1, 1, 1, 1) * (end - start).unsqueeze(0)).reshape(-1, *start.shape[1:])
    path.requires_grad_(True)
    handle = install(lambda state: path)
    try:
        with frozen(bundle.model), skipped(skip):
            scores = similarity_at(bundle, input_ids.repeat(steps, 1), attention_mask.repeat(steps, 1),
                                   pooled.repeat(steps), image.repeat(steps, 1))
            (grads,) = torch.autograd.grad(scores, path, grad_outputs=weights.repeat_interleave(len(start)))
    finally:
        handle.remove()
    return (grads.view(shape).sum(0) * (end - start)).sum(-1).detach()


def site_states(bundle: ClipBundle, sites: Sequence[str], tokens: dict[str, torch.Tensor], pooled: torch.Tensor,
                image: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The states at every one of `sites` (rows, positions, width) in one forward pass, and S(image, ids) per row."""
    states: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Callable[[torch.Tensor], None]:
        return lambda state: states.__setitem__(name, state.detach())

    handles = [bundle.hook_site(s, keep(s)) for s in sites]
    try:
        with torch.no_grad():
            scores = similarity_at(bundle, tokens["input_ids"], tokens["attention_mask"], pooled, image)
    finally:
        for h in handles:
            h.remove()
    return states, scores
