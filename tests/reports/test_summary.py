from negscope.experiments.report import write_report
from negscope.results import EvaluationResult, PairedChange, SelectionResult, StudyResult

from .test_report import run_dir  # noqa: F401  (the fixture)


def _with_intervals(root):
    res = EvaluationResult.load(root / "evaluate" / "evaluation.json")
    before, after = res.rows
    for row in res.rows:
        row.chance = {"presence_accuracy": 0.5, "absence_accuracy": 0.5, "mcq_accuracy": 0.25, "swap_accuracy": 0.5,
                      "flip_rate": 0.5, "i2t_r1": 0.025, "t2i_r1": 0.025}
    before.intervals = {"presence_accuracy": [0.25, 0.35], "absence_accuracy": [0.15, 0.25], "mcq_accuracy": [0.35, 0.45]}
    after.intervals = {"presence_accuracy": [0.6, 0.7], "absence_accuracy": [0.5, 0.6], "mcq_accuracy": [0.2, 0.3]}
    after.mcq_accuracy = 0.27
    before.retrieval_ci = {"i2t_r1": [0.79, 0.81], "t2i_r1": [0.45, 0.55]}
    after.retrieval_ci = {"i2t_r1": [0.77, 0.79], "t2i_r1": [0.45, 0.55]}
    after.changes = {"presence_accuracy": PairedChange(0.3, 0.65, 0.35, 0.3, 0.4, True),
                     "i2t_r1": PairedChange(0.8, 0.78, -0.02, -0.05, 0.01, False),
                     "t2i_r1": PairedChange(0.5, 0.45, -0.05, -0.08, -0.02, True)}
    after.retrieval["t2i_r1"] = 0.45
    res.save(root / "evaluate")


def test_the_summary_comes_first_with_every_headline_figure(run_dir):  # noqa: F811
    _with_intervals(run_dir)
    md = write_report(run_dir)[1].read_text()
    summary = md.split("## Summary")[1].split("\n## ")[0]
    assert md.index("## Summary") < md.index("## Do negated captions") < md.index("## Appendix: stages, timings")
    assert "scores at least as high as the caption itself in 87 of 200 image–caption pairs (43.5%)" in summary
    assert "30.0% of presence pairs and 20.0% of absence pairs, where chance is 50%" in summary
    assert "**Selected text blocks: 0, 2.** They hold 0.90 of the combined evidence" in summary
    assert "kept in at least 70.0% of 20 joint resamples of every kind's images" in summary
    assert "| patching | block 2 | +0.600 [+0.500, +0.700] | decided the plan (weight 1.00) |" in summary
    assert "| attribution | block 1 | +0.200 [-0.100, +0.500] | within noise: weight 0 |" in summary
    assert "The plan was decided by patching; attribution was within noise and weighed nothing." in summary
    assert "| probes | – | – | missing |" in summary
    assert ("| presence accuracy | 0.500 | 0.300 [0.250, 0.350] | 0.650 [0.600, 0.700] | +0.350 [+0.300, +0.400], "
            "real |") in summary
    # below the interval of the model before, yet the paired interval of the change holds 0: within noise
    assert "| i2t R@1 | 0.025 | 0.800 [0.790, 0.810] | 0.780 [0.770, 0.790] | -0.020 [-0.050, +0.010], within noise |" in summary
    # inside the interval of the model before, yet the paired interval excludes 0: real
    assert "| t2i R@1 | 0.025 | 0.500 [0.450, 0.550] | 0.450 [0.450, 0.550] | -0.050 [-0.080, -0.020], real |" in summary
    assert "| MCQ, negation answer | 0.250 | 0.300 | 0.300 | +0.000 |" in summary  # no paired change in the result
    assert "A change is real only when that interval excludes 0" in summary
    # computed caveats: a metric not above chance after, and a real drop (paired interval below 0)
    assert "MCQ accuracy after fine-tuning, 0.270 [0.200, 0.300], is not above chance (0.250)." in summary
    assert ("t2i R@1 fell from 0.500 to 0.450: a real drop, the paired interval of the change [-0.080, -0.020] lies "
            "below 0.") in summary
    assert "i2t R@1 fell" not in summary and "presence accuracy after fine-tuning" not in summary
    assert "**absence accuracy**: share of pairs where a true caption negating an object the image lacks" in summary
    assert "| stage | status |" not in summary and "nan" not in summary


def test_a_study_on_other_images_is_named_as_its_own_baseline(run_dir):  # noqa: F811
    study = StudyResult.load(run_dir / "study" / "study.json")
    study.images = 20
    study.save(run_dir / "study")
    md = write_report(run_dir)[1].read_text()
    assert ("The layer study evaluates on its own 20 images, so its \"before\" figures differ from those above "
            "(i2t R@1 0.800 against 0.800 on 40)") in md


def test_evidence_left_out_and_a_selection_without_learned_evidence_are_said(run_dir):  # noqa: F811
    sel = SelectionResult.load(run_dir / "selection" / "selection.json")
    sel.evidence.excluded = {"probes: negated": "uninformative: the bigrams baseline (1.000) scores at least as high"}
    sel.certain = False
    sel.save(run_dir / "selection")
    md = write_report(run_dir)[1].read_text()
    summary = md.split("## Summary")[1].split("\n## ")[0]
    assert "| probes: negated | – | – | uninformative: the bigrams baseline (1.000) scores at least as high |" in summary
    assert "| probes | – | – | left out: every part uninformative (below) |" in summary
    assert "Left out of the selection, probes: negated: uninformative" in summary
    assert "the selection is not evidence of learned negation" in summary
    assert "No kind of evidence gains over the untrained copies beyond noise at any block" in summary


def test_held_out_combinations_and_the_seen_share_are_shown(run_dir):  # noqa: F811
    res = EvaluationResult.load(run_dir / "evaluate" / "evaluation.json")
    res.held_out, res.seen_share = ["red circle", "blue triangle"], {"captions": 0.031, "negations": 0.004}
    for row, (held, seen) in zip(res.rows, [(0.41, 0.43), (0.58, 0.97)]):
        row.held_out_combinations, row.seen_combinations = held, seen
    res.save(run_dir / "evaluate")
    summary = write_report(run_dir)[1].read_text().split("## Summary")[1].split("\n## ")[0]
    assert "| held-out combinations | – | 0.410 | 0.580 |" in summary
    assert "| seen combinations | – | 0.430 | 0.970 |" in summary
    assert ("3.1% of the evaluated captions and 0.4% of their negated texts occur word for word in the fine-tuning "
            "data, which holds out scenes of a lone kind of object and every scene with one of these categories: red "
            "circle, blue triangle.") in summary
