import base64
import re

import matplotlib.pyplot as plt
import pytest

from negscope.cli import main
from negscope.io import write_json
from negscope.reports.report import build_report

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
    return {"model": model, "images": 40, "presence_accuracy": presence, "absence_accuracy": absence,
            "mcq_accuracy": 0.4, "mcq_by_type": {"negation": 0.3, "hybrid": 0.5}, "retrieval": {**ret, "i2t_r1": i2t_r1},
            "flips": flips}


@pytest.fixture
def run_dir(tmp_path):
    root = tmp_path / "run"
    write_json(root / "config.json", {"model": "world", "data": "world", "seed": 0,
                                      "stages": ["similarity", "selection", "finetune", "evaluate"]})
    write_json(root / "similarity" / "similarity.json", {
        "data": "world", "images": 40, "skipped_images": 1, "seed": 0,
        "rows": [{"model": "world", "pairs": 200, "pos_mean": 0.3123, "pos_std": 0.05, "neg_mean": 0.3051,
                  "neg_std": 0.04, "flips": 87, "flip_rate": 0.435, "templates": TEMPLATES}]})
    write_json(root / "similarity" / "stage.json", {"config_hash": "abc123", "seconds": 4.2})
    png(root / "similarity" / "templates_world.png")
    png(root / "similarity" / "tsne_world.png")
    write_json(root / "selection" / "selection.json", {
        "blocks": [0, 2], "rule": "top (coverage 0.5)",
        "ranking": [{"block": 2, "name": "text.block.2", "score": 0.6, "patching": 0.6},
                    {"block": 0, "name": "text.block.0", "score": 0.3, "patching": 0.3}],
        "evidence": {"kinds": ["patching"], "missing": ["probes", "attribution"], "coverage_of_plan": 0.9,
                     "stability": {"inclusion": [0.7, 0.1, 0.95]}}})
    write_json(root / "finetune" / "train.json", {
        "model": "world", "blocks_spec": "auto", "blocks": [0, 2], "trainable": ["a", "b"], "processes": 1,
        "data": "world[0:100]@0", "train_seconds": 12.5, "final_loss": 1.25,
        "config": {"steps": 3, "batch_size": 8, "lr": 3e-4, "weight_decay": 0.2, "warmup": 1, "margin": 0.9, "lambda_abs": 1.0},
        "history": [{"step": i, "loss": 2.0 - 0.25 * i, "lr": 3e-4} for i in (1, 2, 3)]})
    write_json(root / "evaluate" / "evaluation.json", {"data": "world", "seed": 0, "rows": [
        eval_row("world", 0.30, 0.20, 0.80, 90), eval_row(str(root / "finetune"), 0.65, 0.56, 0.78, 20)]})
    gains = {"presence_accuracy": 0.65, "presence_accuracy_gain": 0.35, "absence_accuracy": 0.56, "absence_accuracy_gain": 0.36,
             "mcq_accuracy": 0.5, "mcq_accuracy_gain": 0.1, "i2t_r1": 0.78, "i2t_r1_gain": -0.02}
    write_json(root / "study" / "study.json", {
        "model": "world", "train_data": "world", "eval_data": "world", "images": 40,
        "train_config": {"steps": 3, "batch_size": 8, "lr": 3e-4},
        "baseline": {"presence_accuracy": 0.3, "absence_accuracy": 0.2, "mcq_accuracy": 0.4, "i2t_r1": 0.8},
        "rows": [{"set": "front", "blocks": [0, 1], "analysis_coverage": 0.7, "negation_gain": 0.355, **gains},
                 {"set": "back", "blocks": [2, 3], "analysis_coverage": 0.1, "negation_gain": 0.1, **gains}],
        "rank_correlation": {"spearman_rho": 0.9, "p_value": 0.04, "n": 5, "between": "coverage and gain"}})
    return root


def test_report_numbers_come_from_the_json(run_dir):
    md = build_report(run_dir)[1].read_text()
    assert "87 of 200 image–caption pairs (43.5%)" in md
    assert "| world | 200 | 0.3123 ± 0.0500 | 0.3051 ± 0.0400 | 87 | 43.5% |" in md
    assert "40 images used by the similarity study, 1 unreadable images skipped" in md
    assert "Selected text blocks: 0, 2, covering 0.900" in md
    assert "| 1 | text.block.2 | 0.600 | 0.600 | 0.950 |" in md
    assert "presence accuracy from 0.300 to 0.650 (+0.350)" in md and "absence accuracy from 0.200 to 0.560 (+0.360)" in md
    assert "image-to-text R@1 went from 0.800 to 0.780 (-0.020)" in md
    assert "| after: `finetune` | 0.650 | 0.560 |" in md
    assert "| after − before | +0.350 | +0.360 | +0.000 | -0.020 |" in md and md.rstrip().count("| -70 |") == 1
    assert "| similarity | complete | abc123 | 4.2 |" in md and "| finetune | not run | – | – |" in md
    assert "| front (0,1) | 0.650 (+0.350) | 0.560 (+0.360) | 0.500 (+0.100) | 0.780 (-0.020) | 0.700 |" in md
    assert "+0.355, came from the `front` set" in md and "ρ = 0.90 (p = 0.04, n = 5)" in md
    assert "](similarity/templates_world.png)" in md and "](similarity/tsne_world.png)" in md


def test_missing_sections_say_not_run(run_dir):
    build_report(run_dir)
    md = (run_dir / "report.md").read_text()
    for rel in ("probes/probes.json", "attribution/attribution.json", "patching/patching.json"):
        assert f"Not run: `{rel}` is missing" in md


def test_html_is_self_contained(run_dir):
    html = build_report(run_dir)[0].read_text()
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]) == (run_dir / "similarity" / "templates_world.png").read_bytes()
    assert "<table>" in html and "<code>world</code>" in html and "href=" not in html


def test_empty_run_folder_reports_every_section_as_not_run(tmp_path):
    _, md = build_report(tmp_path)
    assert md.read_text().count("Not run") == 9


def test_cli_report(run_dir, tmp_path, capsys):
    assert main(["report", "--from", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file()
    assert main(["report", "--from", str(tmp_path / "nope")]) == 2
    assert "nope does not exist" in capsys.readouterr().err
