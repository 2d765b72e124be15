"""Steered models: a base model whose text states move along a negation direction at chosen sites during inference,
through hooks; no weight changes.

A steered model is a folder holding `steering.json` (the base model's spec, the direction's source, the mode, the
strength and the sites) and `steering.safetensors` (per site, the vectors the mode needs). `load_bundle(folder)` loads
the base model and installs the hooks, so every stage takes the folder as `--model`.

At each chosen site the hook moves the states of a caption's negated tokens, from its first negator word through
its pooled position (a caption without a negator is left as it is):

- ``add``: x + strength · gap · u, with u the unit direction and gap the distance between the mean pooled states of
  negated and of positive captions along it, so strength 1 adds one such gap;
- ``project``: x + (strength − 1) · c(x), with c(x) the component LEACE's eraser removes (strength 0 erases it,
  1 leaves the state as it was, above 1 amplifies it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..data.negation import NEGATORS
from .sites import check_site

if TYPE_CHECKING:
    from .bundle import ClipBundle

STEERING_FILE = "steering.json"
VECTORS_FILE = "steering.safetensors"
MODES = {"add": ("direction", "gap"), "project": ("left", "right", "bias")}  # each mode's vectors per site


class SteeringError(ValueError):
    """A steering folder or setting that cannot be used; the message says what to fix."""


@dataclass
class Steering:
    """An intervention on a base model's text states: `mode` (`MODES`) along the direction of `source` at `sites`,
    with `strength`; `vectors[site]` holds the mode's tensors."""

    base: str
    source: str
    mode: str
    strength: float
    sites: list[str]
    vectors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SteeringError(f"steering mode {self.mode!r} is unknown; choose one of {sorted(MODES)}")
        missing = [f"{s}.{k}" for s in self.sites for k in MODES[self.mode] if k not in self.vectors.get(s, {})]
        if missing:
            raise SteeringError(f"steering at {', '.join(self.sites)} in mode {self.mode!r} lacks {missing[0]}; "
                                "refit the directions with `negscope steer`")

    @property
    def values(self) -> int:
        """How many numbers the intervention adds to the model."""
        return sum(self.vectors[s][k].numel() for s in self.sites for k in MODES[self.mode])

    def shift(self, site: str, states: torch.Tensor) -> torch.Tensor:
        """What the intervention adds to `states` (..., width) at `site`."""
        v = {k: t.to(states.device, states.dtype) for k, t in self.vectors[site].items()}
        if self.mode == "add":
            return self.strength * v["gap"] * v["direction"]
        component = ((states - v["bias"]) @ v["right"].T) @ v["left"].T
        return (self.strength - 1.0) * component

    def save(self, folder: str | Path) -> Path:
        """Write `steering.json` and `steering.safetensors` into `folder` (created where missing); returns the folder."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({f"{s}/{k}": self.vectors[s][k].float().contiguous() for s in self.sites for k in MODES[self.mode]},
                  str(folder / VECTORS_FILE))
        meta = {k: v for k, v in asdict(self).items() if k != "vectors"}
        (folder / STEERING_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Steering:
        """Read a steering folder written by `save`; errors name the file and the fix."""
        from safetensors.torch import load_file

        folder = Path(folder)
        try:
            meta = json.loads((folder / STEERING_FILE).read_text())
            tensors = load_file(str(folder / VECTORS_FILE))
            vectors: dict[str, dict[str, torch.Tensor]] = {}
            for key, tensor in tensors.items():
                site, _, name = key.rpartition("/")
                vectors.setdefault(site, {})[name] = tensor
            return cls(**meta, vectors=vectors)
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise SteeringError(f"steering folder {folder} cannot be read ({err}); write it again with `negscope steer`") from None


def negator_ids(bundle: ClipBundle) -> torch.Tensor:
    """The token ids of `bundle`'s vocabulary whose text is a negator word."""
    ids = list(range(bundle.token_embedding.weight.shape[0]))
    return torch.tensor([i for i, name in zip(ids, bundle.token_names(ids)) if name.strip().lower() in NEGATORS])


def negated_positions(bundle: ClipBundle, input_ids: torch.Tensor, negators: torch.Tensor) -> torch.Tensor:
    """(batch, tokens) True from each row's first negator through its pooled position."""
    is_negator = torch.isin(input_ids, negators.to(input_ids.device))
    position = torch.arange(input_ids.shape[1], device=input_ids.device)[None]
    first = torch.where(is_negator.any(1), is_negator.to(torch.int).argmax(1), input_ids.shape[1])
    return (position >= first[:, None]) & (position <= bundle.pool_positions(input_ids)[:, None])


@contextmanager
def steered(bundle: ClipBundle, steering: Steering) -> Iterator[ClipBundle]:
    """Within the block, `bundle` runs with `steering`'s hooks (see `install`)."""
    handles = install(bundle, steering)
    try:
        yield bundle
    finally:
        for h in handles:
            h.remove()
        bundle.steering = None


def install(bundle: ClipBundle, steering: Steering) -> list:
    """Hook `steering` into `bundle` for good (a steered model loaded from its folder); returns the hook handles."""
    if bundle.steering is not None:
        raise SteeringError(f"{bundle.spec} is already steered; steer its base model instead")
    for site in steering.sites:
        check_site(site, len(bundle.text_layers), bundle.spec)
    negators = negator_ids(bundle)
    where: dict[str, torch.Tensor] = {}

    def start(input_ids: torch.Tensor) -> None:
        where["mask"] = negated_positions(bundle, input_ids, negators)

    def move(site: str):
        def hook(state: torch.Tensor) -> torch.Tensor:
            mask = where["mask"][..., None].to(state.device)
            return state + mask * steering.shift(site, state)

        return hook

    handles = [bundle.hook_token_ids(start), *(bundle.hook_site(site, move(site)) for site in steering.sites)]
    bundle.steering = steering
    return handles
