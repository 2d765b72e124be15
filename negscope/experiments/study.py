"""`negscope study layers`: fine-tune front, middle, back, all and analysis-selected text blocks alike, and compare.

Beside them: the set each selection rule (`RULES`) takes from the same evidence at the selected set's size, random
block sets of that size (the selected set's test against chance), the selected
blocks trained with the plain CLIP loss on the same captions and steps (the same-budget baseline, `CLIP_ARM`), and
every block with evidence trained at a learning rate scaled by it (`WEIGHTED_ARM`, NAST-style).

Each set is fine-tuned once per training seed (`seed`, `seed+1`, ...), each run in its own folder `<set>/seed_<s>/`,
keyed by the content of its inputs (model and data fingerprints, the training settings, the blocks, the seed, the
evaluation size and the code); a rerun reuses a finished run only while that key matches, and redoes it otherwise,
so changed `--steps`, weights or data never reuse old numbers, while adding seeds trains only the new ones.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from ..io import write_csv, write_text
from ..reports.document import over_seeds
from ..reports.figures import study_bars
from ..results import EvaluationRow, RankCorrelation, SelectionResult, StudyResult, StudyRow
from ..results.study import AgainstChance, FrontBack, SeedRun
from ..selection import RULES, plan_blocks
from ..selection.rank import choose
from .common import mean_std, open_study
from .config import Common, FinetuneConfig, StudyConfig

SETS = ("front", "middle", "back", "all", "selected")
CLIP_ARM = "selected_clip_loss"  # the selected blocks trained with the plain CLIP loss: the same-budget baseline
WEIGHTED_ARM = "evidence_weighted"  # every block with evidence, its learning rate scaled by it (NAST-style)
METRICS = ("presence_accuracy", "absence_accuracy", "mcq_accuracy", "i2t_r1", "t2i_r1")
ALPHA = 0.05


def _seed_run(seed: int, after: EvaluationRow, before: EvaluationRow) -> SeedRun:
    values = {m: after.metric(m) for m in METRICS}
    gains = {m: values[m] - before.metric(m) for m in METRICS}
    return SeedRun(seed, values, gains, (gains["presence_accuracy"] + gains["absence_accuracy"]) / 2)


def summarise(name: str, blocks: list[int], coverage: float | None, runs: list[SeedRun]) -> StudyRow:
    """A block set's row: per-metric mean and std over its seed runs, and the mean of their gains."""
    values, std = {}, {}
    for m in METRICS:
        values[m], std[m] = mean_std([r.values[m] for r in runs])
    gains = {m: mean_std([r.gains[m] for r in runs])[0] for m in METRICS}
    negation, negation_std = mean_std([r.negation_gain for r in runs])
    return StudyRow(name, blocks, coverage, values, std, gains, negation, negation_std, runs)


def front_back_test(front: StudyRow, back: StudyRow) -> FrontBack:
    """Paired t-test over the seeds both sets share of the negation gain of front minus back."""
    from scipy.stats import ttest_rel

    back_gain = {r.seed: r.negation_gain for r in back.runs}
    shared = [r for r in front.runs if r.seed in back_gain]
    seeds = [r.seed for r in shared]
    a, b = np.array([r.negation_gain for r in shared]), np.array([back_gain[s] for s in seeds])
    diff = a - b
    mean, std = mean_std(list(diff)) if seeds else (float("nan"), 0.0)
    t = p = None
    if len(seeds) < 2:
        note = (f"no p-value: a paired test needs at least 2 seeds shared by front and back, and there were "
                f"{len(seeds)}; set the study's seeds to 2 or more")
    elif np.ptp(diff) < 1e-9:  # scipy gives NaN, or a spurious t from rounding, when every difference is the same
        note = "no p-value: the front − back difference was the same for every seed, so seed noise cannot be measured"
    else:
        res = ttest_rel(a, b)
        t, p = float(res.statistic), float(res.pvalue)
        note = (f"front and back differ beyond seed noise (p < {ALPHA}): {'front' if mean > 0 else 'back'} gains more"
                if p < ALPHA else f"front and back do not differ beyond seed noise (p ≥ {ALPHA})")
    return FrontBack(seeds, mean, std, len(seeds), t, p, note)


def evidence_weighted(combined: list[float]) -> tuple[list[int], dict[str, list[float]]]:
    """The evidence-weighted arm: every block whose combined evidence is above 0, each trained at the learning rate
    times its evidence over the largest block's (NAST scales each layer's update by its causal effect).

    Args:
        combined: each block's combined evidence (`SelectionResult.evidence.combined`).

    Returns:
        The blocks and the training settings' change (`lr_scale`, one factor per block, 0 where frozen).
    """
    top = max(combined)
    if top <= 0:
        raise ValueError("no block has evidence above 0, so the evidence-weighted arm has nothing to train; "
                         "drop the selection from the study or gather more evidence")
    scale = [max(float(c), 0.0) / top for c in combined]
    return [k for k, f in enumerate(scale) if f > 0], {"lr_scale": scale}


def random_sets(n_blocks: int, selected: list[int], count: int, rng: np.random.Generator) -> list[list[int]]:
    """`count` distinct random sets of `len(selected)` of `n_blocks` blocks, none equal to `selected` (all of them when
    fewer exist), each sorted.

    Args:
        n_blocks: the model's text blocks.
        selected: the selected blocks.
        count: how many sets.
        rng: the generator.

    Returns:
        The sets, in the order drawn.
    """
    size, chosen = len(selected), {tuple(sorted(selected))}
    possible = math.comb(n_blocks, size) - 1
    out: list[list[int]] = []
    while len(out) < min(count, possible):
        draw = tuple(sorted(int(k) for k in rng.choice(n_blocks, size, replace=False)))
        if draw not in chosen:
            chosen.add(draw)
            out.append(list(draw))
    return out


def against_chance(by_set: dict[str, StudyRow], random_names: list[str]) -> AgainstChance | None:
    """The selected set's negation gain against the random sets' (see `AgainstChance`); None without random sets."""
    from scipy.stats import t as student

    if not random_names:
        return None
    chosen, randoms = by_set["selected"], [by_set[n] for n in random_names]
    gains = [r.negation_gain for r in randoms]
    per_seed = {r.seed: r.negation_gain for r in chosen.runs}
    seeds = [s for s in per_seed if all(any(x.seed == s for x in r.runs) for r in randoms)]
    diff = np.array([per_seed[s] - np.mean([next(x.negation_gain for x in r.runs if x.seed == s) for r in randoms])
                     for s in seeds])
    interval = []
    if len(diff) > 1:
        half = student.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
        interval = [float(diff.mean() - half), float(diff.mean() + half)]
    return AgainstChance(
        blocks=chosen.blocks, random_sets=[r.blocks for r in randoms], selected_gain=chosen.negation_gain,
        random_gains=gains, rank=1 + sum(g >= chosen.negation_gain for g in gains),
        p_value=(1 + sum(g >= chosen.negation_gain for g in gains)) / (1 + len(gains)),
        difference=float(diff.mean()) if len(diff) else float("nan"), interval=interval, seeds=seeds)


def run_layer_study(
    common: Common,
    finetune: FinetuneConfig,
    cfg: StudyConfig,
    out: str | Path,
    selection: str | Path | None = None,
    progress: bool = True,
) -> StudyResult:
    """Fine-tune each block set with the same budget once per seed, evaluate each run, and compare the sets."""
    from scipy.stats import spearmanr

    out = Path(out)
    study = open_study(common, finetune, cfg, out, progress, role=cfg.score_on)
    base, train, seeds = study.baseline, study.train, study.seeds
    sel = SelectionResult.load(selection) if selection else None
    sets = {name: [b.index for b in plan_blocks(study.bundle, *(("auto", selection) if name == "selected" else (name, None)))]
            for name in SETS if name != "selected" or sel is not None}
    if sel is not None:
        combined = np.asarray(sel.evidence.combined)
        sets |= {f"rule_{rule}": choose(combined, sel.coverage, rule, len(sel.blocks)) for rule in RULES}
        rng = np.random.default_rng([common.seed, len(sel.blocks)])
        sets |= {f"random_{i + 1}": b for i, b in enumerate(random_sets(len(study.bundle.blocks), sel.blocks,
                                                                          cfg.random_sets, rng))}
    arms = [(name, blocks, {}) for name, blocks in sets.items()]
    if sel is not None:
        arms += [(CLIP_ARM, sets["selected"], {"objective": "clip"}),
                 (WEIGHTED_ARM, *evidence_weighted(sel.evidence.combined))]
    trained: list[tuple[str, list[int], FinetuneConfig]] = []
    same_as: dict[str, list[str]] = {}
    for name, blocks, changes in arms:
        train_arm = dataclasses.replace(train, **changes)
        twin = next((n for n, b, t in trained if b == blocks and t == train_arm), None)
        if twin:
            same_as[twin].append(name)
        else:
            trained.append((name, blocks, train_arm))
            same_as[name] = []
    jobs = [study.job(out / name / f"seed_{seed}", train_arm, blocks, seed, f"layer study: fine-tuning {name} blocks {blocks}",
                      full=False)
            for name, blocks, train_arm in trained for seed in seeds]
    done = iter(study.run_all(jobs))
    rows: list[StudyRow] = []
    for name, blocks, train_arm in trained:
        runs = [_seed_run(seed, next(done), base) for seed in seeds]
        coverage = float(sum(sel.evidence.combined[k] for k in blocks)) if sel else None
        rows.append(dataclasses.replace(summarise(name, blocks, coverage, runs), same_as=same_as[name],
                                        objective=train_arm.objective, lr_scale=train_arm.lr_scale))
    corr = None
    omni = [r for r in rows if r.objective == "omni" and not r.lr_scale]
    if sel and len(omni) >= 3:
        rho, p = spearmanr([r.analysis_coverage for r in omni], [r.negation_gain for r in omni])
        corr = RankCorrelation(float(rho), float(p), len(omni),
                               "share of the analysis score covered by a set's blocks, and its mean presence/absence gain")
    by_set = {name: r for r in rows for name in (r.set, *r.same_as)}
    result = StudyResult(model=common.model, train_data=study.train_data, eval_data=study.dataset.describe(), images=len(study.dataset),
                         train_config=dataclasses.asdict(train), seeds=seeds,
                         baseline={m: base.metric(m) for m in METRICS}, rows=rows, rank_correlation=corr,
                         front_back=front_back_test(by_set["front"], by_set["back"]),
                         against_chance=against_chance(by_set, [n for n in sets if n.startswith("random_")]) if sel else None)
    result.save(out)
    write_text(out / "study.md", format_summary(result))
    _write_csv(result, out / "study.csv")
    study_bars(result, out / "study.png")
    return result


def _write_csv(result: StudyResult, path: Path) -> None:
    """One row per set and seed, then the set's mean row (seed `mean`)."""
    write_csv(path, ["set", "seed", "blocks", *METRICS, *(f"{m}_gain" for m in METRICS), "negation_gain", "analysis_coverage"],
              ([" = ".join([r.set, *r.same_as]), seed, " ".join(map(str, r.blocks)), *(f"{run.values[m]:.4f}" for m in METRICS),
                *(f"{run.gains[m]:+.4f}" for m in METRICS), f"{run.negation_gain:+.4f}", r.analysis_coverage]
               for r in result.rows for seed, run in [*((s.seed, s) for s in r.runs), ("mean", r)]))


def format_summary(result: StudyResult) -> str:
    """The layer-study table as Markdown (mean ± std over seeds, mean gains against the model before fine-tuning)."""
    b = result.baseline
    columns = ["presence", "absence", "MCQ", "i2t R@1", "t2i R@1", "negation gain", "analysis coverage"]
    lines = [
        f"| trained blocks (mean ± std over {len(result.seeds)} seeds) | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
        "| none (before) | " + " | ".join(f"{b[m]:.3f}" for m in METRICS) + " | | |",
    ]
    for r in result.rows:
        cov = "" if r.analysis_coverage is None else f"{r.analysis_coverage:.2f}"
        cells = " | ".join(over_seeds(r.values[m], r.std[m], r.gains[m]) for m in METRICS)
        lines.append(f"| {r.label} | {cells} | "
                     f"{r.negation_gain:+.3f} ± {r.negation_gain_std:.3f} | {cov} |")
    c = result.rank_correlation
    if c:
        lines.append(f"\nSpearman rank correlation ({c.between}): ρ = {c.spearman_rho:.2f} (p = {c.p_value:.2f}, n = {c.n}).")
    lines.append(f"\n{result.front_back.sentence()}")
    if result.against_chance:
        lines.append(f"\n{result.against_chance.sentence()}")
    return "\n".join(lines) + "\n"
