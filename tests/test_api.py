"""The public API in `negscope/__init__.py`: every name resolves, and importing negscope loads nothing heavy."""

import subprocess
import sys

import pytest

import negscope


def test_every_public_name_resolves():
    for name in negscope.__all__:
        assert getattr(negscope, name) is not None, name
    assert set(negscope.__all__) <= set(dir(negscope))


def test_an_unknown_name_points_at_the_public_ones():
    with pytest.raises(AttributeError, match="negscope.__all__"):
        negscope.no_such_thing  # noqa: B018


def test_importing_negscope_loads_no_torch_and_no_pyplot():
    code = "import sys, negscope; print(sorted(m for m in ('torch', 'transformers', 'matplotlib.pyplot') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
