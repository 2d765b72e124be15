"""Typed run configs: dataclasses loaded from TOML, strictly checked, with a stable hash per section."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..finetune.trainer import TrainConfig

STAGES = ("similarity", "probes", "attribution", "patching", "selection", "finetune", "evaluate", "study")


class ConfigError(ValueError):
    """A config file or value that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class SimilarityConfig:
    """The seed study: Table 1, the seven templates and the t-SNE."""

    limit: int = 500


@dataclass(frozen=True)
class ProbesConfig:
    """Per-layer linear probes on captured text states (see ProbeConfig)."""

    limit: int = 1000
    folds: int = 5
    captions_per_image: int = 1
    n_boot: int = 1000
    dtype: str = "float32"
    batch_size: int = 256


@dataclass(frozen=True)
class AttributionConfig:
    """Token and per-layer integrated-gradient attribution."""

    limit: int = 64
    steps: int = 32
    examples: int = 8


@dataclass(frozen=True)
class PatchingConfig:
    """Activation patching between positive and negated captions."""

    limit: int = 200
    all_tokens: bool = False
    pairs: str = "presence"


@dataclass(frozen=True)
class SelectionConfig:
    """The rule that turns probe, attribution and patching evidence into a freeze plan."""

    coverage: float = 0.5
    rule: str = "front"
    resamples: int = 200


@dataclass(frozen=True)
class FinetuneConfig:
    """Omni-NegCLIP fine-tuning: which blocks, on which data, and the trainer's settings (see TrainConfig)."""

    blocks: str = "auto"
    data: str | None = None
    pool: int = 10000
    steps: int = TrainConfig.steps
    batch_size: int = TrainConfig.batch_size
    lr: float = TrainConfig.lr
    weight_decay: float = TrainConfig.weight_decay
    warmup: int = TrainConfig.warmup
    grad_clip: float = TrainConfig.grad_clip
    lambda_abs: float = TrainConfig.lambda_abs
    lambda_orig: float = TrainConfig.lambda_orig
    lambda_text: float = TrainConfig.lambda_text
    margin: float = TrainConfig.margin
    save_every: int = TrainConfig.save_every


@dataclass(frozen=True)
class EvaluateConfig:
    """The before-and-after evaluation: negation accuracies, MCQ and retrieval."""

    limit: int = 1000


@dataclass(frozen=True)
class StudyConfig:
    """The layer study: front, middle, back, all and selected blocks, each trained `steps` steps with the finetune settings."""

    steps: int = TrainConfig.steps
    limit: int = 500


@dataclass(frozen=True)
class RunConfig:
    """Everything `negscope run` needs: shared settings plus one section per stage."""

    name: str = "default"
    model: str = "world"
    data: str = "world"
    seed: int = 0
    strict: bool = False
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    similarity: SimilarityConfig = field(default_factory=SimilarityConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    patching: PatchingConfig = field(default_factory=PatchingConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    study: StudyConfig = field(default_factory=StudyConfig)

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ConfigError(f"unknown stage {unknown[0]!r} in 'stages'{_nearest(unknown[0], STAGES)}; stages are {', '.join(STAGES)}")


SHARED = ("model", "data", "seed", "strict")

# Sizes for `negscope run --quick`: a smoke run of every stage in a few minutes on 2 CPU cores.
QUICK: dict[str, dict[str, Any]] = {
    "similarity": {"limit": 60},
    "probes": {"limit": 200, "folds": 3, "n_boot": 200},
    "attribution": {"limit": 8, "steps": 8, "examples": 4},
    "patching": {"limit": 48},
    "finetune": {"steps": 40, "batch_size": 32, "pool": 1000, "warmup": 5, "save_every": 20},
    "evaluate": {"limit": 150},
}


def load_config(path: str | Path | None = None) -> RunConfig:
    """The config in TOML file `path`, or the defaults when `path` is None."""
    if path is None:
        return RunConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass an existing TOML file, e.g. configs/default.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML ({err}); fix the line it names") from None
    try:
        return from_dict(RunConfig, raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def from_dict(cls: type, raw: dict[str, Any], section: str = "") -> Any:
    """Build dataclass `cls` from `raw`, rejecting unknown keys and values of the wrong type."""
    where = f"[{section}]" if section else "the top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{section!r} must be a table ([{section}]), not {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"unknown key {key!r} in {where}{_nearest(key, fields)}; valid keys: {', '.join(fields)}")
        name = f"{section}.{key}" if section else key
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = from_dict(hint, value, name)
        else:
            values[key] = _check(name, value, hint)
    return cls(**values)


def with_overrides(cfg: RunConfig, overrides: dict[str, dict[str, Any]]) -> RunConfig:
    """`cfg` with section values replaced by `overrides` ({section: {key: value}}), checked like a file."""
    changes = {}
    for section, values in overrides.items():
        current = dataclasses.asdict(getattr(cfg, section))
        changes[section] = from_dict(type(getattr(cfg, section)), {**current, **values}, section)
    return dataclasses.replace(cfg, **changes)


def quick(cfg: RunConfig) -> RunConfig:
    """`cfg` shrunk for `--quick`: the QUICK sizes (never larger than the config's) and no layer study."""
    shrunk = {
        section: {k: min(v, getattr(getattr(cfg, section), k)) if type(v) is int else v for k, v in values.items()}
        for section, values in QUICK.items()
    }
    cfg = with_overrides(cfg, shrunk)
    return dataclasses.replace(cfg, stages=[s for s in cfg.stages if s != "study"])


def section_config(cfg: RunConfig, stage: str) -> dict[str, Any]:
    """The settings a stage depends on: the shared ones plus its own section."""
    return {**{k: getattr(cfg, k) for k in SHARED}, stage: dataclasses.asdict(getattr(cfg, stage))}


def config_hash(data: Any) -> str:
    """A stable short hash of JSON-able `data` (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check(name: str, value: Any, hint: Any) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return value
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is str and isinstance(value, str):
            return value
        if typing.get_origin(option) is list and isinstance(value, list):
            (item,) = typing.get_args(option)
            return [_check(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    wanted = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"{name} must be {wanted}, not {type(value).__name__} ({value!r}); fix its value")


def _nearest(key: str, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""
