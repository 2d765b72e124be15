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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..io import atomic_path, read_json, write_json
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
        with atomic_path(folder / VECTORS_FILE) as tmp:
            save_file({f"{s}/{k}": self.vectors[s][k].float().contiguous() for s in self.sites for k in MODES[self.mode]},
                      str(tmp))
        write_json(folder / STEERING_FILE, {f.name: getattr(self, f.name) for f in fields(self) if f.name != "vectors"})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Steering:
        """Read a steering folder written by `save`; errors name the file and the fix."""
        from safetensors.torch import load_file

        folder = Path(folder)
        try:
            meta = read_json(folder / STEERING_FILE)
            tensors = load_file(str(folder / VECTORS_FILE))
            vectors: dict[str, dict[str, torch.Tensor]] = {}
            for key, tensor in tensors.items():
                site, _, name = key.rpartition("/")
                vectors.setdefault(site, {})[name] = tensor
            return cls(**meta, vectors=vectors)
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise SteeringError(f"steering folder {folder} cannot be read ({err}); write it again with `negscope steer`") from None


def negated_positions(bundle: ClipBundle, input_ids: torch.Tensor) -> torch.Tensor:
    """(batch, tokens) True from each row's first negator (`ClipBundle.negator_ids`) through its pooled position."""
    is_negator = torch.isin(input_ids, bundle.negator_ids.to(input_ids.device))
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
    where: dict[str, torch.Tensor] = {}

    def start(input_ids: torch.Tensor) -> None:
        where["mask"] = negated_positions(bundle, input_ids)

    def move(site: str):
        def hook(state: torch.Tensor) -> torch.Tensor:
            mask = where["mask"][..., None].to(state.device)
            return state + mask * steering.shift(site, state)

        return hook

    handles = [bundle.hook_token_ids(start), *(bundle.hook_site(site, move(site)) for site in steering.sites)]
    bundle.steering = steering
    return handles
