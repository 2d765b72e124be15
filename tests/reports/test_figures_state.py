import os
import subprocess
import sys

from matplotlib.figure import Figure

from negscope.reports.figures import training_curve

CHECK = """
import sys
import matplotlib
import negscope, negscope.reports.figures, negscope.reports.probe_figures
import negscope.reports.attribution_figures, negscope.reports.report, negscope.experiments.run
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules, "importing negscope imported matplotlib.pyplot"
"""


def test_importing_negscope_keeps_the_backend_and_skips_pyplot():
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run([sys.executable, "-c", CHECK], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_figure_function_returns_the_figure_and_writes_a_png(tmp_path):
    history = [{"loss": 3.0 - 0.1 * i, "presence": 1.0, "absence": 2.0 - 0.1 * i} for i in range(20)]
    path = tmp_path / "curve" / "training_curve.png"
    fig = training_curve(history, path, title="test")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "test"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["training_curve.png"]
