import base64
import re

import matplotlib.pyplot as plt
import pytest

from negscope.cli import main
from negscope.experiments.config import STAGES
from negscope.experiments.report import write_report
from negscope.io import write_json
from negscope.reports.figures import validation_curve
from negscope.results import (
    EvaluationResult,
    EvaluationRow,
    EvidenceSummary,
    KindWeight,
    RankCorrelation,
    RankedBlock,
    RecipeRow,
    RecipesResult,
    SeedRow,
    SelectionResult,
    SimilarityResult,
    Stability,
    StudyResult,
    StudyRow,
    TrainResult,
)
from negscope.results.study import FrontBack, SeedRun

TEMPLATES = {"caption": 0.31, "this_is": 0.3, "not": 0.29, "this_is_not": 0.305, "absolutely_no": 0.28,
             "subject_changed": 0.2, "not_mismatched": 0.27}


def png(path):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def eval_row(model, presence, absence, i2t_r1, flips):
    ret = {k: 0.5 for k in ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10")}
    return EvaluationRow(model=model, pairs=200, pos_mean=0.3, pos_std=0.05, neg_mean=0.3, neg_std=0.04, flips=flips,
                         flip_rate=flips / 200, templates=TEMPLATES, images=40, presence_accuracy=presence,
                         absence_accuracy=absence, mcq_accuracy=0.4, mcq_by_type={"negation": 0.3, "hybrid": 0.5},
                         retrieval={**ret, "i2t_r1": i2t_r1})


@pytest.fixture
def run_dir(tmp_path):
    root = tmp_path / "run"
    write_json(root / "config.json", {"model": "world", "data": "world", "seed": 0,
                                      "stages": ["similarity", "selection", "finetune", "evaluate"]})
    SimilarityResult("world", 40, 1, 0, [SeedRow("world", 200, 0.3123, 0.05, 0.3051, 0.04, 87, 0.435, TEMPLATES)]).save(
        root / "similarity")
    write_json(root / "similarity" / "stage.json", {"key": "abc123", "seconds": 4.2})
    png(root / "similarity" / "templates_world.png")
    png(root / "similarity" / "tsne_world.png")
    SelectionResult(
        blocks=[0, 2], rule="top (coverage 0.5)",
        ranking=[RankedBlock(2, "text.block.2", 0.6, {"patching": 0.6}), RankedBlock(0, "text.block.0", 0.3, {"patching": 0.3})],
        evidence=EvidenceSummary(["patching"], ["probes", "attribution"], {}, {"patching": [0.3, 0.1, 0.6]}, [0.3, 0.1, 0.6],
                                 0.9, Stability(20, 0, [0.7, 0.1, 0.95]), within_noise=["attribution"],
                                 by_kind={"patching": KindWeight("recreated share", 40, [0, 1, 2], [0.3, 0.1, 0.6],
                                                                 [0.2, -0.1, 0.5], [0.4, 0.3, 0.7], [True, False, True],
                                                                 True, 1.0, "blocks 0, 2 beyond noise"),
                                          "attribution": KindWeight("EOS share", 40, [0, 1, 2], [0.0, 0.2, 0.0],
                                                                    [-0.1, -0.1, -0.1], [0.1, 0.5, 0.1],
                                                                    [False, False, False], False, 0.0, "within noise")}),
        coverage=0.5, seed=0,
    ).save(root / "selection")
    TrainResult(model="world", blocks_spec="auto", selection=None, seed=0, blocks=[0, 2], trainable=["a", "b"],
                processes=1, data="world[0:100]@0", train_seconds=12.5, threads=2, final_loss=1.25,
                config={"steps": 3, "batch_size": 8, "lr": 3e-4, "weight_decay": 0.2, "warmup": 1, "margin": 0.9,
                        "lambda_abs": 1.0},
                history=[{"step": i, "loss": 2.0 - 0.25 * i, "lr": 3e-4} for i in (1, 2, 3)]).save(root / "finetune")
    EvaluationResult("world", 0, 0, [eval_row("world", 0.30, 0.20, 0.80, 90),
                                      eval_row(str(root / "finetune"), 0.65, 0.56, 0.78, 20)]).save(root / "evaluate")
    values = {"presence_accuracy": 0.65, "absence_accuracy": 0.56, "mcq_accuracy": 0.5, "i2t_r1": 0.78}
    std = {"presence_accuracy": 0.02, "absence_accuracy": 0.01, "mcq_accuracy": 0.0, "i2t_r1": 0.005}
    gains = {"presence_accuracy": 0.35, "absence_accuracy": 0.36, "mcq_accuracy": 0.1, "i2t_r1": -0.02}
    runs = [SeedRun(0, values, gains, 0.355), SeedRun(1, values, gains, 0.355)]
    StudyResult(
        model="world", train_data="world", eval_data="world", images=40,
        train_config={"steps": 3, "batch_size": 8, "lr": 3e-4}, seeds=[0, 1],
        baseline={"presence_accuracy": 0.3, "absence_accuracy": 0.2, "mcq_accuracy": 0.4, "i2t_r1": 0.8},
        rows=[StudyRow("front", [0, 1], 0.7, values, std, gains, 0.355, 0.015, runs),
              StudyRow("back", [2, 3], 0.1, values, std, gains, 0.1, 0.02, runs)],
        rank_correlation=RankCorrelation(0.9, 0.04, 5, "coverage and gain"),
        front_back=FrontBack([0, 1], 0.255, 0.01, 2, 36.1, 0.0176, "front and back differ beyond seed noise (p < 0.05)"),
    ).save(root / "study")
    return root


def test_report_numbers_come_from_the_json(run_dir):
    md = write_report(run_dir)[1].read_text()
    assert "87 of 200 image–caption pairs (43.5%)" in md
    assert "| world | 200 | 0.3123 ± 0.0500 | 0.3051 ± 0.0400 | 87 | 43.5% |" in md
    assert "40 images used by the similarity study, 1 unreadable images skipped" in md
    assert "Selected text blocks: 0, 2, covering 0.900" in md
    assert "| 1 | 2 | 0.600 | 0.600 | 0.950 |" in md
    assert "presence accuracy from 0.300 to 0.650 (+0.350)" in md and "absence accuracy from 0.200 to 0.560 (+0.360)" in md
    assert "image-to-text R@1 went from 0.800 to 0.780 (-0.020)" in md
    assert "| after: `finetune` | 0.650 | 0.560 |" in md
    assert "| after − before | +0.350 | +0.360 | +0.000 | -70 |" in md and md.rstrip().count("| -70 |") == 1
    assert "| after − before | -0.020 | +0.000 | +0.000 | +0.000 | +0.000 | +0.000 |" in md
    assert "| similarity | complete | abc123 | 4.2 | 1 |" in md and "| finetune | not run | – | – | – |" in md
    assert ("| front (0,1) | 0.650 ± 0.020 (+0.350) | 0.560 ± 0.010 (+0.360) | 0.500 ± 0.000 (+0.100) "
            "| 0.780 ± 0.005 (-0.020) | +0.355 ± 0.015 | 0.700 |") in md
    assert "2 seeds: 0, 1" in md and "+0.355 ± 0.015, came from the `front` set" in md and "ρ = 0.90 (p = 0.04, n = 5)" in md
    assert "(n = 2, t = 36.10, p = 0.0176); front and back differ beyond seed noise (p < 0.05)." in md
    assert "](similarity/templates_world.png)" in md and "](similarity/tsne_world.png)" in md


def test_missing_sections_say_not_run(run_dir):
    write_report(run_dir)
    md = (run_dir / "report.md").read_text()
    for rel in ("probes", "attribution", "patching"):
        assert f"Not run: `{rel}` holds no result" in md


def test_a_result_of_another_schema_is_named_not_misread(run_dir):
    path = run_dir / "selection" / "selection.json"
    path.write_text(path.read_text().replace(f'"schema": {SelectionResult.schema}', '"schema": 99'))
    md = write_report(run_dir)[1].read_text()
    assert "schema 99" in md and "rerun the selection stage" in md


def test_html_is_self_contained(run_dir):
    html = write_report(run_dir)[0].read_text()
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]) == (run_dir / "similarity" / "templates_world.png").read_bytes()
    assert "<table>" in html and "<code>world</code>" in html and "href=" not in html


def test_empty_run_folder_reports_every_section_as_not_run(tmp_path):
    _, md = write_report(tmp_path)
    assert md.read_text().count("Not run") == len(STAGES) + 1  # every stage's section and the appendix
    (tmp_path / "file").write_text("")
    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        write_report(tmp_path / "file")


def test_cli_report(run_dir, tmp_path, capsys):
    assert main(["report", "--from", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file()
    assert main(["report", "--from", str(tmp_path / "nope")]) == 2
    assert "nope does not exist" in capsys.readouterr().err


FORM_ACC = {"no": {"presence": 0.9, "absence": 0.8}, "not_true": {"presence": 0.7, "absence": 0.6},
            "without": {"presence": 0.55, "absence": 0.45}}
VALIDATION = [{"step": s, "presence": 0.5 + s / 100, "absence": 0.4 + s / 100, "negation": 0.45 + s / 100,
               "i2t_r1": 0.8 - s / 1000, "t2i_r1": 0.7} for s in (0, 20, 40)]


def train_result(chosen):
    return TrainResult(model="world", blocks_spec="0,2", selection=None, seed=0, blocks=[0, 2], trainable=["a"],
                       processes=1, data="world", train_seconds=3.0, threads=1, final_loss=1.0,
                       config={"steps": 40, "batch_size": 8, "lr": 3e-4, "weight_decay": 0.2, "warmup": 1, "margin": 0.9,
                               "lambda_abs": 1.0, "forms": ["no", "not_true"], "lambda_anchor": 0.5, "lora_rank": 8,
                               "validation": 300, "validate_every": 20, "retrieval_tolerance": 0.02, "patience": 0},
                       history=[{"step": 1, "loss": 2.0}], validation=VALIDATION, chosen=chosen)


@pytest.fixture
def new_run_dir(run_dir):
    chosen = {"record": VALIDATION[1], "admissible": True,
              "note": "step 20: best validation negation accuracy among the 2 of 2 checkpoints whose R@1 fell by at most "
                      "0.02 both ways"}
    train_result(chosen).save(run_dir / "finetune")
    validation_curve(VALIDATION, 20, run_dir / "finetune" / "validation_curve.png")  # as the finetune stage draws it
    before, after = eval_row("world", 0.30, 0.20, 0.80, 90), eval_row(str(run_dir / "finetune"), 0.65, 0.56, 0.78, 20)
    before.retrieval_ci = {"i2t_r1": [0.75, 0.85], "t2i_r1": [0.45, 0.55]}
    after.retrieval_ci = {"i2t_r1": [0.7312, 0.8288], "t2i_r1": [0.45, 0.55]}
    after.retrieval["t2i_r1"] = 0.592
    before.form_accuracy = {k: {"presence": 0.5, "absence": 0.5} for k in FORM_ACC}
    after.form_accuracy = FORM_ACC
    EvaluationResult("world", 0, 0, [before, after]).save(run_dir / "evaluate")
    metrics = {"presence_accuracy": 0.6, "absence_accuracy": 0.5, "held_out": 0.55, "flip_rate": 0.2, "i2t_r1": 0.79,
               "t2i_r1": 0.69}
    RecipesResult(
        model="world", train_data="world", eval_data="world", images=40, blocks=[0, 2],
        train_config={"steps": 40, "batch_size": 8, "lr": 3e-4}, seeds=[0, 1],
        baseline={**metrics, "presence_accuracy": 0.3, "held_out": 0.5, "flip_rate": 0.45, "i2t_r1": 0.8},
        baseline_forms={"no": 0.5, "not_true": 0.5, "without": 0.5},
        rows=[RecipeRow("forms=no", {"forms": ["no"]}, ["no"], metrics, {k: 0.01 for k in metrics},
                        {"no": 0.85, "not_true": 0.6, "without": 0.52}, {"no": 0.01, "not_true": 0.02, "without": 0.0},
                        [20, 40])],
    ).save(run_dir / "recipes")
    png(run_dir / "recipes" / "forms.png")
    return run_dir


def test_new_fields_and_the_recipe_study_are_reported(new_run_dir):
    md = write_report(new_run_dir)[1].read_text()
    # fine-tuning: settings, the validation split, the rule, the choice, its table and the drawn curve
    assert "trained through LoRA adapters of rank 8 with the Omni-NegCLIP loss on `world` (negation forms `no`, `not_true`)" in md
    assert "λ_abs 1.000, λ_anchor 0.500 (an anchor term" in md and "Up to 300 training images" in md
    assert "fell by at most 0.02 below step 0" in md
    assert ("Chosen: step 20: best validation negation accuracy among the 2 of 2 checkpoints whose R@1 fell by at most "
            "0.02 both ways") in md
    assert "| 0 (before) | 0.450 |" in md and "| 20 ← chosen | 0.650 | 0.700 | 0.600 | 0.780 | 0.700 |" in md
    assert (new_run_dir / "finetune" / "validation_curve.png").is_file()
    assert md.count("](finetune/validation_curve.png)") == 1
    # evaluation: both directions with intervals, the retrieval table, the forms table
    assert ("image-to-text R@1 went from 0.800 [0.75, 0.85] to 0.780 [0.73, 0.83] (-0.020) and text-to-image R@1 "
            "from 0.500 [0.45, 0.55] to 0.592 [0.45, 0.55] (+0.092)") in md
    assert "| after: `finetune` | 0.780 [0.73, 0.83] | 0.500 | 0.500 | 0.592 [0.45, 0.55] | 0.500 | 0.500 |" in md
    assert "| after − before | -0.020 | +0.000 | +0.000 | +0.092 | +0.000 | +0.000 |" in md
    assert "The fine-tune trained on `no`, `not_true` (its `train.json`)" in md
    assert "| no | no red circle next to a blue square | 0.500 | 0.500 | 0.900 | 0.800 | yes |" in md
    assert "| without | a red circle, without a blue square | 0.500 | 0.500 | 0.550 | 0.450 | no (held out) |" in md
    assert "| held-out forms (mean) | – | 0.500 | 0.500 | 0.550 | 0.450 | – |" in md
    # the recipe study
    assert "## Recipe study: what keeps retrieval, and which negation forms generalise" in md
    assert "| forms=no | 0.600 ± 0.010 (+0.300) | 0.500 ± 0.010 (+0.000) | 0.550 ± 0.010 (+0.050) |" in md
    assert "| 20, 40 |" in md
    assert "| forms=no (no) | 0.850* | 0.600 | 0.520 |" in md and "| (before) | 0.500 | 0.500 | 0.500 |" in md
    assert "](recipes/forms.png)" in md


def test_a_choice_that_lost_retrieval_is_flagged(new_run_dir):
    note = "step 40: no checkpoint kept R@1 within 0 of the model before fine-tuning; this one lost least (0.040)"
    train_result({"record": VALIDATION[2], "admissible": False, "note": note}).save(new_run_dir / "finetune")
    md = write_report(new_run_dir)[1].read_text()
    assert f"No checkpoint kept retrieval; {note}." in md and "| 40 ← chosen |" in md


def test_older_results_skip_the_new_tables(run_dir):
    md = write_report(run_dir)[1].read_text()
    assert "Negation forms." not in md and "Up to" not in md and "[" not in md.split("## Before and after")[1].split("##")[0]
    assert not (run_dir / "finetune" / "validation_curve.png").exists()
