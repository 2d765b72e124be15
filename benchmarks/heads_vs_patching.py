"""Seconds of the heads stage against block-level patching (`run_heads`, `run_patching`) on the same pairs of the same
model: a CLIP of ViT-B/32's published shape with random weights, saved to a temporary folder in the Hugging Face
layout and loaded from there as a user's folder is. Each stage runs as `negscope run` calls it, in a fresh output
folder, loading the model and its untrained copies itself; both read image features from one cache warmed first,
so neither pays for encoding images.

    python benchmarks/heads_vs_patching.py [--limit 200] [--copies 1] [--repeats 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from negscope.experiments.analysis import Analysis
from negscope.experiments.config import Common, HeadsConfig, PatchingConfig
from negscope.experiments.heads import run_heads
from negscope.experiments.patch import run_patching
from negscope.models import random_backbone


def main(argv: list[str] | None = None) -> int:
    """Print each stage's seconds per repeat and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="ViT-B/32")
    parser.add_argument("--limit", type=int, default=200, help="images, one pair each")
    parser.add_argument("--copies", type=int, default=1, help="untrained copies each stage measures besides the model")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = random_backbone(args.backbone).save(Path(tmp) / "model", half=True)
        common = Common(model=str(folder), data="world", untrained_copies=args.copies, cache=str(Path(tmp) / "cache"))
        warm = Analysis(common, Path(common.cache))
        for model in [warm.bundle, *map(warm.copy, warm.copy_seeds)]:
            warm.image_features(model, warm.dataset(args.limit))
        print(f"{args.backbone} with random weights: {warm.bundle.heads} heads in each of "
              f"{len(warm.bundle.text_layers)} blocks; {args.limit} images, {args.copies} untrained copies")
        for r in range(args.repeats):
            seconds = {}
            for name, run, cfg in (("patching", run_patching, PatchingConfig(limit=args.limit)),
                                   ("heads", run_heads, HeadsConfig(limit=args.limit))):
                start = time.perf_counter()
                run(common, cfg, Path(tmp) / f"{name}{r}", progress=False)
                seconds[name] = time.perf_counter() - start
            print(f"patching {seconds['patching']:7.1f} s   heads {seconds['heads']:7.1f} s   "
                  f"heads ÷ patching {seconds['heads'] / seconds['patching']:.2f} (goal ≤ 3)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
