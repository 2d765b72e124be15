"""Step time of front-layer fine-tuning against fine-tuning the whole text encoder, side by side.

Models are built from their configs with random weights (step time does not depend on the weights):
the shipped world model's size, and a CLIP ViT-B/32-sized model (transformers' `CLIPConfig` defaults,
which are openai/clip-vit-base-patch32's shapes). Both use the world tokenizer; batches are world scenes.
On CUDA the trainer runs under bf16 autocast, and each variant also reports samples per second and the
peak GPU memory of its training steps (weights, optimiser state and activations). The variants run one
after the other, each alone in memory, so run the benchmark on an otherwise idle machine.

    python benchmarks/finetune.py [--steps 5] [--batch-size 64] [--vit-batch-size 16] [--skip-vit]
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


def measure(size: str, blocks: str, batch: int, steps: int, source, device: torch.device) -> dict:
    """Median seconds per step, and on CUDA the peak memory in GiB, of training text `blocks` of a `size` model."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    bundle = build(size).to(device)
    trainer = Trainer(bundle, source, plan_blocks(bundle, blocks), TrainConfig(steps=steps + 1, batch_size=batch))
    trainer.step()  # warm-up, untimed
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
    return {"step": statistics.median(times), "peak_gib": peak}


def main() -> None:
    """Print step times and the front/all ratio for each model size."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64, help="world-size batch")
    p.add_argument("--vit-batch-size", type=int, default=16, help="ViT-B/32-size batch (CPU)")
    p.add_argument("--skip-vit", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = training_source("world[:512]")
    runs = [("world", args.batch_size)] + ([] if args.skip_vit else [("vit-b-32", args.vit_batch_size)])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}, bf16 autocast"
    else:
        where = f"cpu ({torch.get_num_threads()} threads), float32"
    print(f"fine-tuning step time on {where}, median of {args.steps} steps after one warm-up step")
    print("| model | batch | blocks | s/step | samples/s | peak GiB | front / all step time |")
    print("|---|---|---|---|---|---|---|")
    for size, batch in runs:
        t = {blocks: measure(size, blocks, batch, args.steps, source, device) for blocks in ("front", "all")}
        ratio = t["front"]["step"] / t["all"]["step"]
        for blocks, m in t.items():
            print(f"| {size} | {batch} | {blocks} | {m['step']:.3f} | {batch / m['step']:.1f} | {m['peak_gib']} | "
                  f"{ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
