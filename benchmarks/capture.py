"""Capturing every text layer against a plain `encode_text` pass over the same captions, side by side.

Uses the shipped world model when it is built, otherwise a random-weight model of the same size (time does
not depend on the weights). Plain and captured passes alternate so both see the same machine load; the CPU
time of this process is printed beside wall time, as it is less disturbed by other jobs on a shared machine.

    python benchmarks/capture.py [--model world] [--captions 4096] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from negscope.data.world import CATEGORIES, captions_for
from negscope.hooks import capture_text_states
from negscope.models import ModelLoadError, load_bundle, new_bundle


def world_captions(n: int, seed: int = 0) -> list[str]:
    """`n` world-style captions naming 1-3 objects, without rendering scenes."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        names = [CATEGORIES[i] for i in rng.choice(len(CATEGORIES), size=int(rng.integers(1, 4)), replace=False)]
        out += captions_for(names, rng)
    return out[:n]


def main() -> None:
    """Print the median time of each mode and its ratio to the plain pass."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="world")
    p.add_argument("--captions", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    try:
        bundle = load_bundle(args.model)
    except ModelLoadError:
        bundle = new_bundle("world").to("cpu")
        bundle.model.eval()
        print("world model not built yet: using a random-weight model of the world size")
    captions = world_captions(args.captions)
    modes = {"plain encode_text": None, "capture all sites (eos)": ("eos",), "capture all sites (eos+mean)": ("eos", "mean")}
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    bundle.encode_text(captions[:256])  # warm-up, untimed
    for _ in range(args.repeats):
        for mode, pools in modes.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            if pools is None:
                bundle.encode_text(captions)
            else:
                with capture_text_states(bundle, pools=pools) as cap:
                    bundle.encode_text(captions)
                assert len(cap) == len(captions)
            times[mode].append(time.perf_counter() - start)
            cpu[mode].append(time.process_time() - start_cpu)
    base = statistics.median(times["plain encode_text"])
    base_cpu = statistics.median(cpu["plain encode_text"])
    print(f"{bundle.spec}: {len(captions)} captions, {len(bundle.sites)} hooked sites, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    for mode in modes:
        t, c = statistics.median(times[mode]), statistics.median(cpu[mode])
        print(f"  {mode:32s} wall {t:7.3f} s  ratio {t / base:.3f}   cpu {c:7.3f} s  ratio {c / base_cpu:.3f}")


if __name__ == "__main__":
    main()
