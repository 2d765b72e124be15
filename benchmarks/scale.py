"""How the stages scale with the number of images, on a ViT-B/32-shaped CLIP with random weights.

The model is built from its config (transformers' `CLIPConfig` defaults: openai/clip-vit-base-patch32's shapes,
the world tokenizer) and saved to a temporary folder. The data is a COCO-format folder of N shapes-world scenes
rendered at 224 px, saved as JPEG, each with five captions lengthened to COCO's length (about 11 words) by a
setting phrase. For each N, each stage runs in a fresh process, in this order, all sharing one image-feature cache:

- `images`: encoding every image into the empty cache (the one-time cost of a model on a dataset);
- `similarity`: the seed's Table 1, templates and t-SNE, reading the cache;
- `evaluate`: every negation metric, MCQ and retrieval, reading the cache;
- `finetune cached` / `finetune uncached`: `--steps` steps of batch `--batch-size`, front text blocks, with the
  training images' features read from the cache, or encoded at every step.

It prints seconds per 1,000 images and peak resident memory (RSS) per stage, fine-tuning samples/s, whether time per
image and peak memory stay within 15% from the smallest N to the largest, and extrapolates the seed's Table 1 on
val2017 (5,000 images) and one Omni-NegCLIP epoch on train2017 (118,287 images, one caption each) on this machine.

    python benchmarks/scale.py [--sizes 500 2000] [--steps 6] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VAL2017, TRAIN2017 = 5000, 118287
SETTINGS = ["on a wooden table in a bright kitchen", "in the middle of a quiet city street", "on the grass of a park"]
STAGES = ("images", "similarity", "evaluate", "finetune cached", "finetune uncached")
LINEAR = 0.15


def write_data(folder: Path, n: int) -> Path:
    """A COCO-format folder of `n` world scenes at 224 px (JPEG) with COCO-length captions."""
    from negscope.data import Dataset, ImageRecord, export_coco
    from negscope.data.world import CATEGORIES, EVAL_SEED, captions_for, render_scene

    records = []
    for i in range(n):
        rng = np.random.default_rng([EVAL_SEED, i])
        pixels, objects = render_scene(rng, size=224)
        captions = [f"{c} {SETTINGS[int(rng.integers(len(SETTINGS)))]}" for c in captions_for([o.name for o in objects], rng)]
        records.append(ImageRecord(image_id=i + 1, captions=captions, objects=objects, pixels=pixels))
    return export_coco(Dataset("scale", records, list(CATEGORIES)), folder, suffix=".jpg")


def child(stage: str, model: str, data: str, n: int, cache: str, out: str, steps: int, batch: int) -> dict:
    """Run one stage in this process; its seconds, peak RSS and (fine-tuning) median step time."""
    from negscope.experiments.config import Common, EvaluateConfig, SimilarityConfig
    from negscope.models import load_bundle

    common = Common(model=model, data=data, cache=cache)
    start = time.perf_counter()
    extra = {}
    if stage == "startup":
        load_bundle(model)
    elif stage == "images":
        from negscope.data import load_dataset
        from negscope.evaluation.features import image_features

        image_features(load_bundle(model), load_dataset(data, limit=n), cache=cache)
    elif stage == "similarity":
        from negscope.experiments.similarity import run_similarity

        run_similarity(common, SimilarityConfig(limit=n), out, progress=False)
    elif stage == "evaluate":
        from negscope.experiments.evaluate import run_evaluate

        run_evaluate(common, EvaluateConfig(limit=n), out, progress=False)
    else:
        from negscope.finetune.config import TrainConfig
        from negscope.finetune.run import fine_tune

        cfg = TrainConfig(steps=steps, batch_size=batch, warmup=1, validation=0, save_every=10**6,
                          cached_images=stage == "finetune cached")
        result = fine_tune(model, data, "front", out, cfg=cfg, cache=cache, progress=False)
        extra["step"] = statistics.median(h["seconds"] for h in result.history[1:])
    return {"seconds": time.perf_counter() - start, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            **extra}


def run_child(*args) -> dict:
    """`child(*args)` in a fresh Python process."""
    cmd = [sys.executable, __file__, "--child", json.dumps([str(a) if isinstance(a, Path) else a for a in args])]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"stage {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the per-stage table, the linearity check and the extrapolations."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    p.add_argument("--steps", type=int, default=6, help="fine-tuning steps (the first is not timed)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    import torch

    from negscope.models import random_backbone

    print(f"stages on a ViT-B/32-size CLIP (random weights), cpu ({torch.get_num_threads()} threads), float32")
    stages = [s for s in STAGES if s in args.stages]
    rows: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = random_backbone("ViT-B/32").save(Path(tmp) / "model")
        for n in args.sizes:
            data = write_data(Path(tmp) / f"coco{n}", n)
            for stage in ["startup", *stages]:
                out = Path(tmp) / f"out{n}" / stage.replace(" ", "_")
                rows[stage, n] = r = run_child(stage, model, data, n, Path(tmp) / f"cache{n}", out, args.steps,
                                               args.batch_size)
                step = f", {args.batch_size / r['step']:.1f} samples/s" if "step" in r else ""
                print(f"  N={n} {stage}: {r['seconds']:.1f} s, peak RSS {r['rss_mib']:.0f} MiB{step}", flush=True)
    small, large = min(args.sizes), max(args.sizes)
    startup = statistics.median(rows["startup", n]["seconds"] for n in args.sizes)
    print(f"\nstartup (imports and loading the model, in every stage's process): {startup:.1f} s; "
          "it is left out of the seconds per 1,000 images")
    per = {(s, n): 1000 * max(rows[s, n]["seconds"] - startup, 0) / n for s in stages for n in args.sizes}
    data_stages = [s for s in stages if not s.startswith("finetune")]
    worst = 0.0
    if data_stages:
        print("\n| stage | " + " | ".join(f"s/1000 images (N={n})" for n in args.sizes) + " | "
              + " | ".join(f"peak RSS MiB (N={n})" for n in args.sizes) + f" | time/image {large}÷{small} | RSS {large}÷{small} |")
        print("|---" * (3 + 2 * len(args.sizes)) + "|")
        for stage in data_stages:
            t_ratio = per[stage, large] / per[stage, small]
            m_ratio = rows[stage, large]["rss_mib"] / rows[stage, small]["rss_mib"]
            worst = max(worst, abs(t_ratio - 1), m_ratio - 1)
            print(f"| {stage} | " + " | ".join(f"{per[stage, n]:.1f}" for n in args.sizes) + " | "
                  + " | ".join(f"{rows[stage, n]['rss_mib']:.0f}" for n in args.sizes) + f" | {t_ratio:.2f} | {m_ratio:.2f} |")
    tuned = [s for s in stages if s.startswith("finetune")]
    if tuned:
        print("\n| fine-tuning, front blocks | " + " | ".join(f"samples/s (N={n})" for n in args.sizes)
              + " | " + " | ".join(f"peak RSS MiB (N={n})" for n in args.sizes) + " |")
        print("|---" * (1 + 2 * len(args.sizes)) + "|")
        for stage in tuned:
            print(f"| {stage.removeprefix('finetune ')} | "
                  + " | ".join(f"{args.batch_size / rows[stage, n]['step']:.1f}" for n in args.sizes) + " | "
                  + " | ".join(f"{rows[stage, n]['rss_mib']:.0f}" for n in args.sizes) + " |")
    if len(tuned) == 2:
        cached, uncached = (rows[f"finetune {k}", large]["step"] for k in ("cached", "uncached"))
        print(f"\ncached ÷ uncached step time (N={large}): {cached / uncached:.2f}")
    if data_stages:
        print(f"linear within {LINEAR:.0%} from N={small} to N={large} (time per image and peak RSS): "
              f"{'yes' if worst <= LINEAR else 'no'} (largest deviation {worst:.1%})")
    print(f"\nextrapolated from N={large} on this machine:")
    if {"images", "similarity"} <= set(stages):
        img, texts = VAL2017 * per["images", large] / 1000, VAL2017 * per["similarity", large] / 1000
        print(f"- the seed's Table 1 on val2017 ({VAL2017:,} images), per backbone of this size: {(img + texts) / 60:.0f} "
              f"min (image features {img / 60:.0f} min, texts {texts / 60:.0f} min)")
    if {"images", "finetune cached", "finetune uncached"} <= set(stages):
        encode = TRAIN2017 * per["images", large] / 1000
        print(f"- one Omni-NegCLIP epoch on train2017 ({TRAIN2017:,} images, batch {args.batch_size}): cached "
              f"{(encode + TRAIN2017 / args.batch_size * cached) / 3600:.1f} h (of which {encode / 3600:.1f} h encode "
              f"the images once), uncached {TRAIN2017 / args.batch_size * uncached / 3600:.1f} h")


if __name__ == "__main__":
    main()
