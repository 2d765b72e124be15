"""The benchmarks import only names negscope still has, including imports inside their functions; probe_fit.py's
old and new probes agree on the tiny model."""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_every_negscope_name_a_benchmark_imports_exists(path):
    missing = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("negscope"):
            module = importlib.import_module(node.module)
            missing += [f"{node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)]
    assert not missing, missing


def test_probe_fit_old_and_new_agree_on_the_tiny_model(capsys):
    spec = importlib.util.spec_from_file_location("probe_fit", BENCHMARKS[0].parent / "probe_fit.py")
    probe_fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe_fit)
    assert probe_fit.main(["--model", "tiny", "--images", "12", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "checks (same C per site and outer fold, accuracy within 0.005): passed" in out
    assert {"old", "new", "torch"} <= {line.split()[0] for line in out.splitlines() if line.strip()}
