"""The stage registry: every stage of `negscope run` in pipeline order, with its result type and the stages it reads.

A stage's name is at once its config section (`RunConfig.<name>`), its folder inside a run folder and the kind of
its result, so `run`, the report and the selection all find a stage's output through this one table. Each entry's
`run` imports its runner only when called, so reading the table costs no torch import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..results import (
    AttributionResult,
    ErasureResult,
    EvaluationResult,
    HeadsResult,
    LocalisationResult,
    NegationsResult,
    PatchingResult,
    ProbesResult,
    RecipesResult,
    Result,
    SelectionResult,
    SimilarityResult,
    SteerResult,
    StudyResult,
    TrainResult,
)
from ..results.evidence import KINDS
from .config import RunConfig


@dataclass(frozen=True)
class Stage:
    """One step of the run: its result type (whose kind names the stage), what it reads, and how it runs."""

    result: type[Result]
    needs: tuple[str, ...]
    run: Callable[[RunConfig, Path], Result]
    trains: bool = False  # reads the training data (fine-tuning, or steering's validation split held out of it)
    analyses: bool = False  # shares the run's `Analysis` (model, untrained copies, analysis split) with the others that do
    cost: float = 1.0  # its seconds in README's default run; only for the ETA
    size: Callable[[RunConfig], float] = lambda cfg: 1.0  # its work under a config, in any unit: the cost scales with it

    @property
    def name(self) -> str:
        """The stage's name: its config section, its folder in a run folder and its result's kind."""
        return self.result.kind

    def expected(self, cfg: RunConfig) -> float:
        """The stage's typical seconds under `cfg`: its cost in the default run scaled by its size against the default's."""
        return self.cost * self.size(cfg) / self.size(DEFAULT)

    def folder(self, root: str | Path) -> Path:
        """This stage's folder inside run folder `root`."""
        return Path(root) / self.name

    def load(self, root: str | Path) -> Result | None:
        """This stage's result inside run folder `root`, or None when it has not been written."""
        path = self.result.path(self.folder(root))
        return self.result.load(path) if path.is_file() else None


def _negations(cfg: RunConfig, root: Path) -> Result:
    from .negations import run_negations

    return run_negations(cfg.common, cfg.negations, STAGE["negations"].folder(root))


def _similarity(cfg: RunConfig, root: Path) -> Result:
    from .similarity import run_similarity

    return run_similarity(cfg.common, cfg.similarity, STAGE["similarity"].folder(root))


def _probes(cfg: RunConfig, root: Path) -> Result:
    from .probe import run_probes

    return run_probes(cfg.common, cfg.probes, STAGE["probes"].folder(root))


def _attribution(cfg: RunConfig, root: Path) -> Result:
    from .attribute import run_attribution

    return run_attribution(cfg.common, cfg.attribution, STAGE["attribution"].folder(root))


def _patching(cfg: RunConfig, root: Path) -> Result:
    from .patch import run_patching

    return run_patching(cfg.common, cfg.patching, STAGE["patching"].folder(root))


def _erasure(cfg: RunConfig, root: Path) -> Result:
    from .erase import run_erasure

    return run_erasure(cfg.common, cfg.erasure, STAGE["erasure"].folder(root))


def _heads(cfg: RunConfig, root: Path) -> Result:
    from .heads import run_heads

    return run_heads(cfg.common, cfg.heads, STAGE["heads"].folder(root))


def _selection(cfg: RunConfig, root: Path) -> Result:
    from .select import run_selection

    sources = {name: STAGE[name].folder(root) for name in STAGE["selection"].needs}
    return run_selection(cfg.selection, STAGE["selection"].folder(root), sources=sources)


def _finetune(cfg: RunConfig, root: Path) -> Result:
    from .finetune import run_finetune

    selection = selection_file(root) if cfg.finetune.blocks == "auto" else None
    return run_finetune(cfg.common, cfg.finetune, finetuned_model(root), selection=selection, resume=True)


def _steer(cfg: RunConfig, root: Path) -> Result:
    from .steer import run_steer

    return run_steer(cfg.common, cfg.steer, cfg.finetune, STAGE["steer"].folder(root), finetuned=finetuned_model(root))


def steered_models(root: str | Path) -> tuple[Path, Path]:
    """The steered model and the steered fine-tuned model inside run folder `root`."""
    return STAGE["steer"].folder(root) / "model", STAGE["steer"].folder(root) / "both"


def _evaluate(cfg: RunConfig, root: Path) -> Result:
    from .evaluate import run_evaluate

    steer, both = steered_models(root)
    models = {"before": cfg.model, "steered": str(steer), "fine-tuned": str(finetuned_model(root)), "both": str(both)}
    if "steer" not in cfg.stages:
        models = {k: models[k] for k in ("before", "fine-tuned")}
    return run_evaluate(cfg.common, cfg.evaluate, STAGE["evaluate"].folder(root), models=list(models.values()),
                        trained_forms=cfg.finetune.forms, train_data=cfg.finetune.train_data or cfg.common.data,
                        pool=cfg.finetune.pool, labels=list(models))


def _localisation(cfg: RunConfig, root: Path) -> Result:
    from .localise import run_localisation

    return run_localisation(cfg.common, cfg.localisation, finetuned_model(root), STAGE["localisation"].folder(root))


def _recipes(cfg: RunConfig, root: Path) -> Result:
    from .recipes import run_recipes

    selection = selection_file(root) if cfg.finetune.blocks == "auto" else None
    return run_recipes(cfg.common, cfg.finetune, cfg.recipes, STAGE["recipes"].folder(root), selection=selection)


def _study(cfg: RunConfig, root: Path) -> Result:
    from .study import run_layer_study

    selection = selection_file(root)
    return run_layer_study(cfg.common, cfg.finetune, cfg.study, STAGE["study"].folder(root),
                           selection=selection if selection.is_file() else None)


def finetuned_model(root: str | Path) -> Path:
    """The folder of the fine-tuned model (Hugging Face layout) inside run folder `root`."""
    return STAGE["finetune"].folder(root)


def selection_file(root: str | Path) -> Path:
    """The selection result inside run folder `root`."""
    return SelectionResult.path(STAGE["selection"].folder(root))


DEFAULT = RunConfig()


def _models(cfg: RunConfig) -> int:
    """The models an analysis stage reads: the model and its untrained copies."""
    return 1 + cfg.untrained_copies


STUDY_SETS = 8  # the layer study's sets besides the random ones: five fixed, two arms, and a rule's set unlike them


def _runs(runs: int, steps: int, batch_size: int, limit: int) -> float:
    """The work of `runs` fine-tunes of `steps` steps of `batch_size` images, each evaluated on `limit` images; an
    evaluated image costs about three training images (a rough ratio: the size only scales the ETA)."""
    return runs * (steps * batch_size + 3 * limit)


STAGE_LIST: tuple[Stage, ...] = (
    Stage(NegationsResult, (), _negations, cost=8, size=lambda c: c.negations.limit),
    Stage(SimilarityResult, (), _similarity, cost=22, size=lambda c: c.similarity.limit),
    Stage(ProbesResult, (), _probes, analyses=True, cost=185,
          size=lambda c: c.probes.limit * c.probes.captions_per_image * c.probes.seeds * _models(c)),
    Stage(AttributionResult, (), _attribution, analyses=True, cost=54, size=lambda c: c.attribution.limit * c.attribution.steps * _models(c)),
    Stage(PatchingResult, (), _patching, analyses=True, cost=59, size=lambda c: c.patching.limit * _models(c)),
    Stage(ErasureResult, (), _erasure, analyses=True, cost=74,
          size=lambda c: c.erasure.limit * c.erasure.captions_per_image * _models(c)),
    Stage(HeadsResult, (), _heads, analyses=True, cost=31, size=lambda c: c.heads.limit * _models(c)),
    Stage(SelectionResult, KINDS, _selection, cost=1),
    Stage(TrainResult, ("selection",), _finetune, trains=True, cost=131,
          size=lambda c: c.finetune.steps * (c.finetune.batch_size + c.finetune.validation / c.finetune.validate_every)),
    Stage(SteerResult, ("finetune",), _steer, trains=True, cost=171, size=lambda c: c.finetune.validation + c.steer.limit),
    Stage(EvaluationResult, ("finetune", "steer"), _evaluate, cost=472,
          size=lambda c: c.evaluate.limit * (4 if "steer" in c.stages else 2)),
    Stage(LocalisationResult, ("finetune",), _localisation, cost=50, size=lambda c: c.localisation.limit),
    Stage(RecipesResult, ("selection",), _recipes, trains=True, cost=215,
          size=lambda c: _runs(len(c.recipes.arms) * c.recipes.seeds, c.recipes.steps, c.recipes.batch_size,
                               c.recipes.limit)),
    Stage(StudyResult, ("selection", "finetune"), _study, trains=True, cost=520,
          size=lambda c: _runs((STUDY_SETS + c.study.random_sets) * c.study.seeds, c.study.steps,
                               c.study.batch_size, c.study.limit)),
)
STAGE: dict[str, Stage] = {s.name: s for s in STAGE_LIST}
