"""Probe fitting time against the number of sites probed, side by side in one run.

Fits the `negated` probe (grouped outer CV, inner CV for C, bootstrap CI) on the EOS states of 1, 4 and all
sites of a model, and prints the time of each and its ratio to one site. Fitting should grow linearly with
the site count (ratio about equal to the count), since each site is an independent probe.

    python benchmarks/probe_fit.py [--model world] [--images 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from negscope.data import world_dataset
from negscope.hooks import text_states
from negscope.models import ModelLoadError, load_bundle
from negscope.probes.linear import cross_validate, grouped_splits
from negscope.probes.tasks import negated_task


def main() -> None:
    """Print the fitting time for 1, 4 and all sites and the ratio to one site."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="world")
    p.add_argument("--images", type=int, default=200)
    args = p.parse_args()
    try:
        bundle = load_bundle(args.model)
    except ModelLoadError:
        bundle = load_bundle("tiny")
    task = negated_task(world_dataset(args.images))
    states = text_states(bundle, task.texts)
    names = [s.name for s in bundle.sites]
    y, groups = np.asarray(task.labels), np.asarray(task.groups)
    splits = grouped_splits(y, groups)
    timings = {}
    for count in sorted({1, 4, len(names)}):
        start = time.perf_counter()
        for name in names[:count]:
            cross_validate(states[name].float().numpy(), y, groups, splits)
        timings[count] = time.perf_counter() - start
    print(f"model {bundle.spec}, {len(task.texts)} captions, {len(names)} sites")
    print(" sites  seconds  ratio to 1 site  per site")
    for count, sec in timings.items():
        print(f"{count:6d}  {sec:7.2f}  {sec / timings[1]:15.2f}  {sec / count:8.2f}")


if __name__ == "__main__":
    main()
