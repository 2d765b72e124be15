"""Probe fitting at ViT-B/32 text width: time per caption of the probe stage's sweeps at two sizes.

    python benchmarks/probe_stage.py [--captions 1000 5000] [--sites 13] [--width 512] [--copies 3]

The probe stage fits, per site, the task's probe, its control task and one probe per untrained copy, on the
default stage's grouped folds (5 outer, 3 inner, 11 values of C), beside the surface baselines. This script runs
that `sweep` on states of the given width (Gaussian, a label signal in half of the sites, copies without it) for
`captions` rows in pairs (two captions per image, as the `negated` task has), and prints the seconds per caption at
each size and their ratio (goal: the larger size within 2x of the smaller's time per caption). The forward passes
that capture the states are left out: their cost per caption does not depend on the size.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from negscope.probes import sweep


def states(rng: np.random.Generator, rows: int, sites: int, width: int, y: np.ndarray | None) -> dict[str, np.ndarray]:
    """Gaussian states per site; with `y`, every other site carries the label along one direction."""
    out = {}
    for k in range(sites):
        X = rng.normal(size=(rows, width)).astype(np.float32)
        if y is not None and k % 2:
            X[:, 0] += 1.5 * (2 * y - 1)
        out["text.embed" if k == 0 else f"text.block.{k - 1}"] = X
    return out


def measure(captions: int, sites: int, width: int, copies: int, seed: int = 0) -> float:
    """Seconds of one sweep (model, control and copies at every site, plus one baseline) over `captions` rows."""
    rng = np.random.default_rng(seed)
    groups = np.arange(captions) // 2
    y = np.arange(captions) % 2
    units = [f"object {g % 40}" for g in groups]
    model = states(rng, captions, sites, width, y)
    untrained = {k: states(rng, captions, sites, width, None) for k in range(copies)}
    baselines = {"bag_of_words": rng.poisson(1.0, size=(captions, 60)).astype(np.float32)}
    start = time.perf_counter()
    sweep(model, y, groups, units, images=groups, untrained=untrained, baselines=baselines, n_boot=1000, seed=seed)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and return 0 when the larger size keeps within 2x of the smaller's time per caption."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, nargs=2, default=[1000, 5000])
    parser.add_argument("--sites", type=int, default=13)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args(argv)
    per = []
    for n in args.captions:
        seconds = measure(n, args.sites, args.width, args.copies)
        per.append(seconds / n)
        print(f"{n} captions: {seconds:.1f} s, {1000 * per[-1]:.2f} ms per caption", flush=True)
    ratio = per[1] / per[0]
    print(f"time per caption, {args.captions[1]} ÷ {args.captions[0]}: {ratio:.2f} (goal ≤ 2)")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
