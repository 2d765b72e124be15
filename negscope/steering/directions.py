"""Negation directions per site, fitted on the pooled states of positive and negated captions.

- ``probe``: the weight vector of a `LinearProbe` (negated vs positive), mapped back from its standardised features
  to the states' own coordinates;
- ``leace``: the direction of the component LEACE's eraser removes (`concept_erasure`), with the eraser's parts,
  which the `project` mode applies.

Each direction u is a unit vector oriented so that negated captions lie further along it than positive ones, and
`gap` is how much further on average (the `add` mode's unit of strength).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..hooks import text_states
from ..models import ClipBundle
from ..probes import LinearProbe

SOURCES = ("probe", "leace")


def _oriented(u: torch.Tensor, states: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    u = u / u.norm()
    along = states @ u
    gap = along[labels == 1].mean() - along[labels == 0].mean()
    return {"direction": u * gap.sign(), "gap": gap.abs().reshape(1)}


def fit_directions(bundle: ClipBundle, texts: Sequence[str], labels: Sequence[int], groups: Sequence[int],
                   sites: Sequence[str] | None = None, seed: int = 0) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
    """Fit each source's negation direction at each site.

    Args:
        bundle: the model.
        texts: captions, positive and negated.
        labels: per caption, 1 when negated, else 0.
        groups: per caption, its group (the probe's inner splits keep a group together).
        sites: the sites (default: every site).
        seed: the probe's inner-split seed.

    Returns:
        {source: {site: vectors}}: for every source `direction` (unit) and `gap`; for `leace` also the eraser's
        `left`, `right` and `bias`.
    """
    from concept_erasure import LeaceFitter

    y = torch.as_tensor(np.asarray(labels))
    if set(y.tolist()) != {0, 1}:
        raise ValueError(f"directions need both positive (0) and negated (1) captions; got labels {sorted(set(y.tolist()))}")
    states = {k: v.double() for k, v in text_states(bundle, texts, sites=sites).items()}
    out: dict[str, dict[str, dict[str, torch.Tensor]]] = {s: {} for s in SOURCES}
    for site, x in states.items():
        probe = LinearProbe(seed=seed).fit(x.numpy(), y.numpy(), np.asarray(groups))
        w = torch.as_tensor(probe.coef_.ravel() / probe.scaler_.scale_)
        out["probe"][site] = _oriented(w, x, y)
        eraser = LeaceFitter.fit(x, y[:, None].double()).eraser
        out["leace"][site] = _oriented(eraser.proj_left[:, 0], x, y) | {
            "left": eraser.proj_left.contiguous(), "right": eraser.proj_right.contiguous(), "bias": eraser.bias}
    return out
