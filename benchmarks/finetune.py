"""Step time of fine-tuning against cached image features and against images encoded at every step, and of
front-layer against whole-text-encoder fine-tuning, side by side.

Models are built from their configs with random weights (step time does not depend on the weights):
the shipped world model's size, and a CLIP ViT-B/32-sized model (transformers' `CLIPConfig` defaults,
which are openai/clip-vit-base-patch32's shapes). Both use the world tokenizer; batches are world scenes.
"cached" encodes each training image once before the first step (not timed: the warm-up step includes it) and
looks the features up; "uncached" preprocesses and encodes each batch's images at every step. On CUDA the trainer
runs under bf16 autocast, and each variant also reports samples per second and the peak GPU memory of its training
steps. The variants run one after the other, each alone in memory, so run the benchmark on an otherwise idle machine.

    python benchmarks/finetune.py [--steps 5] [--batch-size 64] [--vit-batch-size 16] [--skip-vit] [--blocks front all]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from negscope.finetune.data import training_source
from negscope.finetune.trainer import TrainConfig, Trainer
from negscope.models import ClipBundle, new_bundle, random_backbone
from negscope.selection import plan_blocks


def build(size: str) -> ClipBundle:
    """A random-weight bundle of the world size or the ViT-B/32 size."""
    return new_bundle("world") if size == "world" else random_backbone("ViT-B/32")


def measure(size: str, blocks: str, cached: bool, batch: int, steps: int, source, device: torch.device) -> dict:
    """Median seconds per step, and on CUDA the peak memory in GiB, of training text `blocks` of a `size` model."""
    cuda = device.type == "cuda"
    bundle = build(size).to(device)
    cfg = TrainConfig(steps=steps + 1, batch_size=batch, cached_images=cached, validation=0)
    trainer = Trainer(bundle, source, plan_blocks(bundle, blocks), cfg)
    trainer.step()  # warm-up, untimed; with cached features it encodes every training image
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        trainer.step()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    peak = f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f}" if cuda else "–"
    del trainer, bundle
    if cuda:
        torch.cuda.empty_cache()
    return {"step": statistics.median(times), "peak_gib": peak}


def main() -> None:
    """Print step times, and the cached/uncached and front/all ratios, for each model size."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64, help="world-size batch")
    p.add_argument("--vit-batch-size", type=int, default=16, help="ViT-B/32-size batch (CPU)")
    p.add_argument("--pool", type=int, default=512, help="training scenes (encoded once by the cached variants)")
    p.add_argument("--blocks", nargs="+", default=["front", "all"], choices=["front", "all"])
    p.add_argument("--skip-vit", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = training_source(f"world[:{args.pool}]")
    runs = [("world", args.batch_size)] + ([] if args.skip_vit else [("vit-b-32", args.vit_batch_size)])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}, bf16 autocast"
    else:
        where = f"cpu ({torch.get_num_threads()} threads), float32"
    print(f"fine-tuning step time on {where}, median of {args.steps} steps after one warm-up step")
    print("| model | batch | blocks | images | s/step | samples/s | peak GiB |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for size, batch in runs:
        t = {}
        for blocks in args.blocks:
            for cached in (True, False):
                m = t[blocks, cached] = measure(size, blocks, cached, batch, args.steps, source, device)
                print(f"| {size} | {batch} | {blocks} | {'cached' if cached else 'uncached'} | {m['step']:.3f} | "
                      f"{batch / m['step']:.1f} | {m['peak_gib']} |", flush=True)
        for blocks in args.blocks:
            ratios.append(f"{size}, {blocks} blocks: cached / uncached step time "
                          f"{t[blocks, True]['step'] / t[blocks, False]['step']:.2f}")
        if len(args.blocks) == 2:
            for cached in (True, False):
                ratios.append(f"{size}, {'cached' if cached else 'uncached'}: front / all step time "
                              f"{t['front', cached]['step'] / t['all', cached]['step']:.2f}")
    print("\n" + "\n".join(ratios))


if __name__ == "__main__":
    main()
