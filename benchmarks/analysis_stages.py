"""Seconds of the attribution and evaluate stages (`run_attribution`, `run_evaluate`) as `negscope run` calls them,
with the default run's settings ([attribution] limit 64, steps 32; [evaluate] limit 1000, two models), each repeat in
a fresh output folder with its own feature cache, so image features are encoded as in a single-stage run.

The default run evaluates the shipped model and its fine-tuned copy; evaluating the shipped model twice costs the
same (every text is encoded again for the second model, the image features come from the cache for both, since
fine-tuning leaves the image tower as it was). To compare two versions of negscope, run the script under each,
back to back, with PYTHONPATH pointing at the other tree (its stage runners take the same arguments); on a shared
machine alternate them a few times and compare the ratios, not the seconds.

    python benchmarks/analysis_stages.py [--stages attribution evaluate] [--models world world] [--repeats 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import negscope
from negscope.experiments.attribute import run_attribution
from negscope.experiments.config import AttributionConfig, Common, EvaluateConfig
from negscope.experiments.evaluate import run_evaluate


def run_stage(stage: str, models: list[str], folder: str) -> float:
    """Seconds of one run of `stage` writing into `folder`."""
    common = Common(model=models[0], data="world")
    start = time.perf_counter()
    if stage == "attribution":
        run_attribution(common, AttributionConfig(), folder, progress=False)
    else:
        run_evaluate(common, EvaluateConfig(), folder, models=models, progress=False)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Print each stage's seconds per repeat."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", nargs="+", default=["attribution", "evaluate"], choices=["attribution", "evaluate"])
    parser.add_argument("--models", nargs="+", default=["world", "world"], help="models evaluate compares")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"negscope from {negscope.__file__}")
    for _ in range(args.repeats):
        for stage in args.stages:
            with tempfile.TemporaryDirectory() as folder:
                print(f"{stage:<12} {run_stage(stage, args.models, folder):8.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
