"""The README's Python example: every name it uses is public, and (slow) it runs as written."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import negscope

README = Path(__file__).resolve().parents[1] / "README.md"


def example() -> str:
    """The Python block under the README's 'Use from Python' heading."""
    section = README.read_text().split("## Use from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_example_uses_only_public_names():
    used = {n.attr for n in ast.walk(ast.parse(example())) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "ns"}
    assert used and used <= set(negscope.__all__), sorted(used - set(negscope.__all__))


@pytest.mark.slow
def test_the_example_runs_as_written(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", example()], check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "text.block.0: accuracy" in proc.stdout and "presence accuracy" in proc.stdout
    before, after = map(float, re.search(r"presence accuracy (\S+) -> (\S+)", proc.stdout).groups())
    assert after > before
