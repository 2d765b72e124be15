"""Wall time of `negscope --help` and `negscope probe --help` against `import torch`, side by side in one run.

Runs each command N times in fresh subprocesses, taking turns, and prints the median wall time of each and each
help time divided by the time of `python -c "import torch"` measured in the same run, against the goal (help at
most 0.6 × import torch): a ratio near or above 1 means the CLI imports torch to print its help. Then runs
`python -X importtime -m negscope.cli --help` once and says which heavy modules the help imports.

    python benchmarks/cli_help.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

GOAL_RATIO = 0.6
HEAVY = ("torch", "inflect", "transformers", "sklearn", "matplotlib")
COMMANDS = {
    "negscope --help": [sys.executable, "-m", "negscope.cli", "--help"],
    "negscope probe --help": [sys.executable, "-m", "negscope.cli", "probe", "--help"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
}


def wall_time(cmd: list[str]) -> float:
    """Seconds `cmd` takes to run to completion in a subprocess (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def heavy_imports() -> dict[str, float | None]:
    """Cumulative import seconds of each heavy module under `-X importtime` for `--help`, None if not imported."""
    cmd = [sys.executable, "-X", "importtime", "-m", "negscope.cli", "--help"]
    done = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cumulative = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cum, name = line.removeprefix("import time:").split("|")
            if cum.strip().isdigit():
                cumulative[name.strip()] = int(cum) / 1e6
    return {name: cumulative.get(name) for name in HEAVY}


def main() -> None:
    """Print the median help times, their ratio to `import torch`, the goal, and the heavy modules imported."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="runs of each command (default 5)")
    args = p.parse_args()
    times: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for _ in range(args.repeats):
        for label, cmd in COMMANDS.items():
            times[label].append(wall_time(cmd))
    medians = {label: statistics.median(t) for label, t in times.items()}
    torch_s = medians['python -c "import torch"']
    print(f"median of {args.repeats} runs each, taking turns; goal: help ≤ {GOAL_RATIO} × import torch")
    print(f"{'command':26s}  {'seconds':>7s}  {'÷ import torch':>14s}  goal")
    for label, sec in medians.items():
        goal = ("met" if sec <= GOAL_RATIO * torch_s else "missed") if "--help" in label else ""
        print(f"{label:26s}  {sec:7.2f}  {sec / torch_s:14.2f}  {goal}")
    print("heavy modules imported by `negscope --help` (python -X importtime):")
    for name, sec in heavy_imports().items():
        print(f"  {name:12s} " + ("not imported" if sec is None else f"imported ({sec:.2f} s cumulative)"))


if __name__ == "__main__":
    main()
