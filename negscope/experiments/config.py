"""Typed, torch-free configs: the settings every stage shares, one dataclass per stage, and `RunConfig`.

Each setting is declared once, here (or in `finetune.config.TrainConfig`), with its help, choices and range;
the TOML keys of `negscope run --config` and the flags of each `negscope <stage>` are generated from it.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.pairs import PAIR_KINDS
from ..finetune.config import TrainConfig, WorldTrainConfig
from ..results.selection import DEFAULT_RULE, RULES, SHORTHANDS, block_spec
from ..settings import ConfigError, from_dict, nearest, setting

__all__ = ["QUICK", "STAGES", "ConfigError", "RunConfig", "WorldTrainConfig", "load_config", "parse_overrides", "quick",
           "with_overrides"]

MODEL_HELP = "world (shipped), tiny (random, tests), a named backbone (negscope models), open_clip:NAME:WEIGHTS, a Hugging Face id or a local model folder"
DATA_HELP = ("world (1,000 held-out scenes), world:N, a COCO-format folder (or one split's image folder), or a .csv/.jsonl table with its own "
             "negations or NegBench questions")


ENGINES = ("local", "ray")


@dataclass(frozen=True)
class Common:
    """The settings every stage shares: model, data and its split, seed and the bad-image policy."""

    model: str = setting("world", MODEL_HELP)
    data: str = setting("world", DATA_HELP)
    split: str | None = setting(None, "split of a COCO-format folder (default: val2017 when present, else the only one)")
    seed: int = setting(0, "seed of every random choice (negations drawn, folds, bootstrap, batches)")
    strict: bool = setting(False, "stop at the first unreadable image instead of skipping and counting it")
    cache: str = setting("", "folder of the image-feature cache the stages share (default: cache/ in the run folder, "
                         "or in --out for a single stage)")
    untrained_copies: int = setting(3, "untrained copies of the architecture (seeds seed, seed+1, ...) every analysis "
                                    "stage measures beside the model", low=1)
    evidence_resamples: int = setting(200, "image resamples behind each kind of evidence's per-block interval and the "
                                      "selection's stability", low=0)
    engine: str = setting("local", "where a study's fine-tuning runs execute: local (worker processes on this machine) "
                          "or ray (tasks on the Ray cluster RAY_ADDRESS names, else a local one; needs negscope[ray])",
                          choices=ENGINES)
    workers: int = setting(0, "a study's runs trained side by side on this machine (0: one per core on CPU, one on a "
                           "GPU)", low=0)
    threads: int = setting(0, "intra-op threads of each study run (0: 1 on CPU, every core on a GPU); runs are keyed "
                           "by it, since it changes the last bits of their results", low=0)

    @property
    def untrained_seeds(self) -> list[int]:
        """The seeds of the untrained copies: seed, seed+1, ... (`untrained_copies` of them)."""
        return list(range(self.seed, self.seed + self.untrained_copies))


@dataclass(frozen=True)
class NegationsConfig:
    """The negated captions every stage reads: a sample, and the captions skipped by reason."""

    limit: int = setting(1000, "images read", low=1)
    samples: int = setting(10, "captions shown with their negations", low=0)


@dataclass(frozen=True)
class SimilarityConfig:
    """The seed study: Table 1, the seven templates and the t-SNE."""

    limit: int = setting(500, "images used", low=1)


@dataclass(frozen=True)
class ProbesConfig:
    """Per-site linear probes on captured text states, with grouped cross-validation and controls."""

    limit: int = setting(300, "images used", low=1)
    folds: int = setting(5, "outer grouped cross-validation folds", low=2)
    captions_per_image: int = setting(1, "source captions used per image", low=1)
    n_boot: int = setting(1000, "bootstrap resamples for the 95% intervals", low=1)
    dtype: str = setting("float32", "dtype of the stored activations", choices=("float32", "float16"))
    batch_size: int = setting(256, "captions per forward pass while capturing", low=1)
    seeds: int = setting(1, "probe seeds (folds, control labels); curves show mean ± std", low=1)
    solver: str = setting("torch", "probe solver: sklearn (LogisticRegression) or torch (the same Newton steps, "
                          "batched over a site's probes)", choices=("sklearn", "torch"))

    def __post_init__(self) -> None:
        if self.folds > self.limit:
            raise ConfigError(f"probes folds ({self.folds}) is more than limit ({self.limit}): each fold needs an image "
                              "of its own; lower folds or raise limit")


@dataclass(frozen=True)
class AttributionConfig:
    """Token and per-site integrated-gradient attribution."""

    limit: int = setting(32, "images used (one caption each)", low=1)
    steps: int = setting(16, "integration steps of integrated gradients", low=1)
    examples: int = setting(8, "captions shown in the token heatmap (all seven templates each)", low=0)


@dataclass(frozen=True)
class PatchingConfig:
    """Activation patching between positive and negated captions."""

    limit: int = setting(200, "images used (one pair each)", low=1)
    all_tokens: bool = setting(False, "also patch every token state (pairs of equal token length only)")
    pairs: str = setting("presence", "presence: 'a X' -> 'no X' (equal length); seed: caption -> 'This is not ' + caption",
                         choices=PAIR_KINDS)

    def __post_init__(self) -> None:
        if self.all_tokens and self.pairs == "seed":
            raise ConfigError("patching all_tokens patches token by token, which needs pairs of equal token length, and "
                              "seed pairs never are ('This is not ' adds tokens); use pairs = presence, or drop all_tokens")


@dataclass(frozen=True)
class HeadsConfig:
    """Per attention head: patching, zero and mean ablation of its pooled output, and its attention to the negator."""

    limit: int = setting(200, "images used (one pair each)", low=1)
    pairs: str = setting("presence", "presence: 'a X' -> 'no X'; seed: caption -> 'This is not ' + caption",
                         choices=PAIR_KINDS)
    batch_size: int = setting(32, "pairs per batch", low=1)


@dataclass(frozen=True)
class ErasureConfig:
    """LEACE erasure of the "negated" concept per site: erasers fitted on half the images, measured on the rest."""

    limit: int = setting(200, "images used (half fit the erasers, half are measured)", low=2)
    captions_per_image: int = setting(2, "captions per image, each giving a presence and an absence pair", low=1)
    n_boot: int = setting(1000, "bootstrap resamples for the 95% intervals", low=1)
    batch_size: int = setting(256, "captions per forward pass", low=1)


STEER_READS = ("validation", "retrieval_tolerance", "forms", "train_data", "pool")  # the [finetune] settings steer reads


@dataclass(frozen=True)
class SteerConfig:
    """Steering along a negation direction: fitted on analysis captions; sites and strength chosen on fine-tuning's
    validation split, with its tolerance ([finetune] validation, retrieval_tolerance, forms)."""

    limit: int = setting(200, "analysis images whose captions fit the directions (one positive and one negated each)",
                         low=2)
    sites: str = setting("all", "candidate sites: all, or names such as text.embed,text.block.4")

    def __post_init__(self) -> None:
        if self.sites != "all" and not all(s.strip() for s in self.sites.split(",")):
            raise ConfigError(f"steer sites {self.sites!r} has an empty name; write all or names such as "
                              "text.embed,text.block.4")


@dataclass(frozen=True)
class LocalisationConfig:
    """Patching and erasure measured again on the fine-tuned model, per block against the model before it."""

    limit: int = setting(200, "analysis images (patching: one presence pair each; erasure: half fit, half measured)",
                         low=2)
    captions_per_image: int = setting(2, "erasure: captions per image, each giving a presence and an absence pair", low=1)
    batch_size: int = setting(256, "captions per forward pass", low=1)


@dataclass(frozen=True)
class SelectionConfig:
    """The rule that turns every kind of evidence into a freeze plan (its stability uses `evidence_resamples`)."""

    coverage: float = setting(0.5, "share of the combined negation evidence the trainable blocks must cover", low=0, high=1)
    rule: str = setting(DEFAULT_RULE, "front: smallest front blocks 0..m; top: fewest top-ranked blocks; window: fewest "
                        "blocks in a row, anywhere", choices=RULES)
    size: int = setting(0, "blocks in the plan: 0 lets coverage decide; k takes exactly k (front: blocks 0..k-1; top: "
                        "the k best; window: the best k in a row)", low=0)


@dataclass(frozen=True)
class FinetuneConfig(TrainConfig):
    """Omni-NegCLIP fine-tuning: which blocks, on which data, and the trainer's settings."""

    blocks: str = setting("auto", "auto (from the selection), front, middle, back (thirds), all, or indices like 0,1,2")
    train_data: str | None = setting(None, "training data (default: the shared data's training split; world means the "
                                   "training scenes); refused when it holds an evaluated image")
    pool: int = setting(10000, "training scenes drawn for world data", low=1)

    def __post_init__(self) -> None:
        try:
            block_spec(self.blocks)
        except ValueError:
            raise ConfigError(f"finetune blocks is {self.blocks!r}; use auto, {', '.join(SHORTHANDS)} or block indices "
                              "like 0,1,2") from None


@dataclass(frozen=True)
class EvaluateConfig:
    """The before-and-after evaluation: negation accuracies, MCQ and retrieval."""

    limit: int = setting(500, "images used", low=1)


@dataclass(frozen=True)
class StudyConfig:
    """The layer study: front, middle, back, all and selected blocks, each fine-tuned alike with the finetune settings."""

    steps: int = setting(30, "fine-tuning steps per block set and seed", low=1)
    batch_size: int = setting(16, "images per step of every run", low=1)
    limit: int = setting(100, "images used to evaluate each set", low=1)
    seeds: int = setting(3, "training seeds per block set (seed, seed+1, ...); the table shows mean ± std", low=1)
    random_sets: int = setting(10, "random block sets of the selected set's size, each trained over the same seeds, "
                               "that the selected set is ranked against", low=0)
    score_on: str = setting("evaluation", "the images every run is scored on: evaluation (the test images), or analysis "
                         "(to decide a setting, such as the selection rule, without reading them)",
                         choices=("evaluation", "analysis"))


DEFAULT_ARMS = ("default", "lambda_anchor=0", "forms=no", "forms=not_true", "forms=without", "forms=this_is_not",
                "lora_rank=8 lr=3e-3")


def _default_arms() -> list[str]:
    return list(DEFAULT_ARMS)


def parse_arm(spec: str, base: FinetuneConfig) -> tuple[dict[str, Any], FinetuneConfig]:
    """A recipe 'key=value key=value' (lists joined by '+'; 'default' changes nothing): its changes and the finetune
    settings it gives, checked like a config file."""
    changes: dict[str, Any] = {}
    hints = typing.get_type_hints(FinetuneConfig)
    for item in [] if spec.strip() == "default" else spec.split():
        key, sep, text = item.partition("=")
        if not sep or key not in hints:
            raise ConfigError(f"recipe {spec!r}: {item!r} is not key=value with a [finetune] key"
                              f"{nearest(key, hints)}; write e.g. 'lr=1e-4 forms=no+not_true'")
        kind = typing.get_origin(hints[key]) or hints[key]
        try:
            changes[key] = (text.split("+") if kind is list else text.lower() == "true" if hints[key] is bool
                            else int(text) if hints[key] is int else float(text) if hints[key] is float else text)
        except ValueError:
            raise ConfigError(f"recipe {spec!r}: {key}={text!r} is not a {hints[key].__name__}") from None
    return changes, from_dict(FinetuneConfig, {**dataclasses.asdict(base), **changes}, f"recipe {spec!r}")


@dataclass(frozen=True)
class RecipesConfig:
    """The recipe study: fine-tuning recipes (changes to [finetune]) trained alike, and the trained × tested forms."""

    arms: list[str] = setting(None, "recipes, each 'key=value ...' over [finetune] ('default': unchanged)",
                              factory=_default_arms)
    steps: int = setting(30, "fine-tuning steps per recipe and seed", low=1)
    batch_size: int = setting(16, "images per step of every recipe's runs (an arm may set its own)", low=1)
    limit: int = setting(100, "images used to evaluate each recipe", low=1)
    seeds: int = setting(2, "training seeds per recipe (seed, seed+1, ...); the table shows mean ± std", low=1)

    def __post_init__(self) -> None:
        for arm in self.arms:
            parse_arm(arm, FinetuneConfig())


def _default_stages() -> list[str]:
    return list(STAGES)


@dataclass(frozen=True)
class RunConfig(Common):
    """Everything `negscope run` needs: the shared settings plus one section per stage, run in this order."""

    name: str = setting("default", "run folder: runs/<name>/ unless --out is given")
    stages: list[str] = setting(None, "the stages to run, in pipeline order", factory=_default_stages)
    negations: NegationsConfig = dataclasses.field(default_factory=NegationsConfig)
    similarity: SimilarityConfig = dataclasses.field(default_factory=SimilarityConfig)
    probes: ProbesConfig = dataclasses.field(default_factory=ProbesConfig)
    attribution: AttributionConfig = dataclasses.field(default_factory=AttributionConfig)
    patching: PatchingConfig = dataclasses.field(default_factory=PatchingConfig)
    erasure: ErasureConfig = dataclasses.field(default_factory=ErasureConfig)
    heads: HeadsConfig = dataclasses.field(default_factory=HeadsConfig)
    selection: SelectionConfig = dataclasses.field(default_factory=SelectionConfig)
    finetune: FinetuneConfig = dataclasses.field(default_factory=FinetuneConfig)
    steer: SteerConfig = dataclasses.field(default_factory=SteerConfig)
    evaluate: EvaluateConfig = dataclasses.field(default_factory=EvaluateConfig)
    localisation: LocalisationConfig = dataclasses.field(default_factory=LocalisationConfig)
    recipes: RecipesConfig = dataclasses.field(default_factory=RecipesConfig)
    study: StudyConfig = dataclasses.field(default_factory=StudyConfig)

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ConfigError(f"unknown stage {unknown[0]!r} in 'stages'{nearest(unknown[0], STAGES)}; stages are {', '.join(STAGES)}")

    @property
    def common(self) -> Common:
        """The shared settings alone."""
        return Common(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Common)})


STAGES: tuple[str, ...] = tuple(k for k, hint in typing.get_type_hints(RunConfig).items() if dataclasses.is_dataclass(hint))

# Sizes for `negscope run --quick`: a smoke run of every stage in a few minutes on 2 CPU cores.
QUICK: dict[str, dict[str, Any]] = {
    "similarity": {"limit": 60},
    "probes": {"limit": 200, "folds": 3, "n_boot": 200},
    "attribution": {"limit": 8, "steps": 8, "examples": 4},
    "patching": {"limit": 48},
    "erasure": {"limit": 60, "n_boot": 200},
    "heads": {"limit": 48},
    "finetune": {"steps": 40, "batch_size": 32, "pool": 1000, "warmup": 5, "save_every": 20, "validation": 100},
    "steer": {"limit": 60},
    "evaluate": {"limit": 150},
    "recipes": {"arms": ["default", "forms=without"], "steps": 20, "limit": 60, "seeds": 1},
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


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` written over it, table by table."""
    out = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def with_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """`cfg` with values replaced by `overrides`, a table shaped like the TOML's ({key: value} for a shared setting,
    {section: {key: value}} for a stage's), checked like a file."""
    return from_dict(RunConfig, _merged(dataclasses.asdict(cfg), overrides))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Dotted `key=value` overrides (`finetune.steps=60`, `seed=1`) as a table for `with_overrides`. Each value is read
    as a TOML value (`60`, `1e-4`, `true`, `["no", "without"]`); one TOML cannot read is taken as a string.

    Args:
        items: the overrides, e.g. from repeated `--set` flags.

    Returns:
        The nested table, later items winning.
    """
    table: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not key=value; write e.g. --set finetune.steps=60 or --set seed=1")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        *sections, name = key.strip().split(".")
        for section in reversed(sections):
            value = {name: value}
            name = section
        table = _merged(table, {name: value})
    return table


def quick(cfg: RunConfig) -> RunConfig:
    """`cfg` shrunk for `--quick`: the QUICK sizes (never larger than the config's) and no layer study."""
    shrunk = {
        section: {k: min(v, getattr(getattr(cfg, section), k)) if type(v) is int else v for k, v in values.items()}
        for section, values in QUICK.items()
    }
    cfg = with_overrides(cfg, shrunk)
    return dataclasses.replace(cfg, stages=[s for s in cfg.stages if s != "study"])
