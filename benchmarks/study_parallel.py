"""A study's runs side by side: wall time of N fine-tuning runs serially and on W worker processes, in one run.

    python benchmarks/study_parallel.py [--model world] [--runs 4] [--workers 2] [--steps 40] [--limit 200]

Three recipe studies of the same N runs (arms that differ in learning rate, seed 0), each into its own folder:
serial with every core's threads per run (what a study did before it had workers), serial with 1 thread per run, and
W workers with 1 thread each. Prints each wall time, the ratio of the workers' time to the first serial time (goal
≤ 0.7 with W = 2 on 2 cores), and whether the workers' rows equal those of the serial run with the same threads.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from negscope.experiments.config import Common, FinetuneConfig, RecipesConfig
from negscope.experiments.recipes import run_recipes


def study(model: str, out: Path, cache: Path, runs: int, steps: int, limit: int, workers: int, threads: int) -> tuple[float, list]:
    """Seconds and rows of a recipe study of `runs` arms trained on `workers` workers with `threads` threads each."""
    arms = ["default", *(f"lr={3e-4 * 2 ** (k + 1):g}" for k in range(runs - 1))]
    common = Common(model=model, data="world", cache=str(cache), workers=workers, threads=threads)
    start = time.perf_counter()
    result = run_recipes(common, FinetuneConfig(blocks="front", validation=0), RecipesConfig(arms=arms, steps=steps,
                         limit=limit, seeds=1), out, progress=False)
    return time.perf_counter() - start, result.rows


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and return 0 when the workers take at most 0.7 of the serial time and give its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="world")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"  # image features, encoded once by a warm-up study for all three
        study(args.model, Path(tmp) / "warm", cache, 1, 1, args.limit, 1, cores)
        timings = {}
        for name, workers, threads in [("serial", 1, cores), ("serial_1_thread", 1, 1),
                                       ("workers", args.workers, 1)]:
            timings[name] = study(args.model, Path(tmp) / name, cache, args.runs, args.steps, args.limit, workers, threads)
            print(f"{name:>16}: {workers} worker(s) × {threads} thread(s), {args.runs} runs: {timings[name][0]:.1f} s",
                  flush=True)
    ratio = timings["workers"][0] / timings["serial"][0]
    same = timings["workers"][1] == timings["serial_1_thread"][1]
    print(f"workers ÷ serial ({cores} cores): {ratio:.2f} (goal ≤ 0.7); rows equal the 1-thread serial rows: {same}")
    return 0 if ratio <= 0.7 and same else 1


if __name__ == "__main__":
    sys.exit(main())
