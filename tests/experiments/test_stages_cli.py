import json
import os
import subprocess
import sys

import pytest

from negscope.cli import main
from negscope.data import export_coco, world_dataset
from negscope.results import SimilarityResult


def test_similarity_cli_writes_table_csv_and_figures(tmp_path, capsys):
    assert main(["similarity", "--model", "tiny", "--data", "world[:12]", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "similarity.json").read_text())
    row = data["rows"][0]
    assert row["model"] == "tiny" and row["pairs"] == 60
    assert 0 <= row["flips"] <= row["pairs"]
    assert (tmp_path / "templates_tiny.png").stat().st_size > 1000
    assert (tmp_path / "tsne_tiny.png").stat().st_size > 1000
    lines = (tmp_path / "similarity.csv").read_text().splitlines()
    assert len(lines) == 61 and lines[0].startswith("model,image_id,caption,s_caption")
    assert "flips" in capsys.readouterr().out
    assert SimilarityResult.load(tmp_path).to_dict() == data
    (tower,) = (tmp_path / "cache").iterdir()
    assert sum(len(json.loads(f.read_text())) for f in tower.glob("*.json")) == 12


def test_a_cache_folder_given_is_shared_and_gives_the_same_numbers(tmp_path):
    args = ["similarity", "--model", "tiny", "--data", "world[:6]"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--cache", str(tmp_path / "shared")]) == 0
    assert main([*args, "--out", str(tmp_path / "c"), "--cache", str(tmp_path / "shared")]) == 0
    assert not (tmp_path / "b" / "cache").exists() and len(list((tmp_path / "shared").iterdir())) == 1
    tables = [(tmp_path / k / "similarity.csv").read_text() for k in "abc"]
    assert tables[0] == tables[1] == tables[2]


def test_evaluate_cli_rows_and_comparison(tmp_path):
    assert main(["evaluate", "--model", "tiny", "--model", "tiny", "--data", "world[:10]", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "evaluation.json").read_text())["rows"]
    assert len(rows) == 2
    for key in ("presence_accuracy", "absence_accuracy", "mcq_accuracy", "mcq_by_type", "pos_mean", "flips"):
        assert key in rows[0]
    assert set(rows[0]["retrieval"]) == {f"{d}_r{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)}
    assert "Δ tiny vs tiny" in (tmp_path / "comparison.md").read_text()


def test_missing_annotation_file_cli(tmp_path, capsys):
    export_coco(world_dataset(2), tmp_path / "c")
    (tmp_path / "c" / "annotations" / "captions_val2017.json").unlink()
    assert main(["similarity", "--model", "tiny", "--data", str(tmp_path / "c"), "--out", str(tmp_path / "o")]) == 2
    assert "captions_" in capsys.readouterr().err


def test_unknown_model_offline_cli_one_line_no_traceback(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-m", "negscope", "similarity", "--model", "nobody/no-such-clip", "--data", "world[:2]",
         "--out", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "local folder" in out.stderr and "nobody/no-such-clip" in out.stderr


HEAVY = ("torch", "inflect", "transformers", "sklearn", "matplotlib")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["probe", "--help"]])
def test_help_imports_nothing_heavy(argv):
    code = ("import sys\nfrom negscope.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=True)
    assert "usage: negscope" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_heavy_import_check_sees_a_heavy_import():
    code = f"import sys, negscope.data.phrases as p; p.indefinite('owl'); print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "inflect" in out.stdout
