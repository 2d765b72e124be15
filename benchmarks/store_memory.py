"""Peak memory of writing an activation store for 2,000 and for 20,000 captions, side by side.

Each size runs in a fresh child process that reports its own peak resident memory, so the two peaks are
comparable. Uses the shipped world model when built, otherwise a random-weight model of the same size.
The store keeps every layer's EOS and mean states; memory should stay flat as captions grow (goal: <= 1.2x).

    python benchmarks/store_memory.py [--sizes 2000 20000] [--shard-size 2048]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(n: int, shard_size: int, folder: str) -> None:
    """Write a store of `n` captions into `folder` and print peak RSS (MiB) before and after, and seconds."""
    from benchmarks.capture import world_captions
    from negscope.hooks import write_store
    from negscope.models import ModelLoadError, load_bundle, new_bundle

    try:
        bundle = load_bundle("world")
    except ModelLoadError:
        bundle = new_bundle("world")
        bundle.model.eval()
    captions = world_captions(n)
    bundle.encode_text(captions[:256])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    store = write_store(folder, bundle, captions, groups=range(n), pools=("eos", "mean"), shard_size=shard_size)
    seconds = time.perf_counter() - start
    assert len(store) == n and not store.missing_shards
    print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, seconds, len(store.sites))


def main() -> None:
    """Run one child per size and print the peaks and their ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    p.add_argument("--shard-size", type=int, default=2048)
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        child(args.child, args.shard_size, args.folder)
        return
    peaks = {}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            cmd = [sys.executable, "-m", "benchmarks.store_memory", "--child", str(n), "--shard-size", str(args.shard_size),
                   "--folder", folder]
            before, peak, seconds, sites = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()[-4:]
        peaks[n] = float(peak)
        print(f"{n:>7d} captions: peak RSS {float(peak):7.1f} MiB (after model load {float(before):7.1f} MiB), "
              f"{int(sites)} sites x eos+mean written in {float(seconds):.1f} s")
    lo, hi = min(args.sizes), max(args.sizes)
    print(f"peak ratio {hi} / {lo} captions: {peaks[hi] / peaks[lo]:.3f} (goal <= 1.2); "
          f"shard size {args.shard_size}")


if __name__ == "__main__":
    main()
