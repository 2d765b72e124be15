"""Pretraining the shapes-world CLIP from scratch on positive captions only, and its held-out measures."""

from __future__ import annotations

import time

import numpy as np
import torch

from ..data import world_dataset
from ..data.world import TRAIN_SEED
from ..evaluation.suite import evaluate
from ..models import ClipBundle, new_bundle
from ..progress import tqdm
from .config import WorldTrainConfig
from .losses import clip_loss
from .schedule import warmup_cosine
from .trainer import LN_100


def world_metrics(bundle: ClipBundle, scenes: int = 1000) -> dict[str, float]:
    """The model card's figures from the full evaluation on `scenes` held-out world scenes."""
    row = evaluate(bundle, world_dataset(scenes))
    names = ("i2t_r1", "i2t_r5", "t2i_r1", "swap_accuracy", "presence_accuracy", "absence_accuracy")
    return {name: row.metric(name) for name in names}


def pretrain_world(cfg: WorldTrainConfig, progress: bool = True) -> tuple[ClipBundle, dict]:
    """A new world CLIP trained with the CLIP loss on `cfg.pool` training scenes; returns it (in eval mode) and its loss record."""
    start = time.time()
    bundle = new_bundle(cfg.size, cfg.seed)
    pool = world_dataset(cfg.pool, seed=TRAIN_SEED)
    if cfg.batch_size > len(pool):
        raise ValueError(f"batch size {cfg.batch_size} exceeds the pool of {len(pool)} scenes; raise the pool or lower the batch size")
    pixels = np.stack([r.load_pixels() for r in pool])
    model = bundle.model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = warmup_cosine(opt, cfg.warmup, cfg.steps)
    rng = np.random.default_rng(cfg.seed)
    losses = []
    bar = tqdm(range(cfg.steps), desc="world pretraining", disable=not progress)
    for _ in bar:
        idx = rng.choice(len(pool), size=cfg.batch_size, replace=False)
        caps = [pool[i].captions[rng.integers(len(pool[i].captions))] for i in idx]
        img = bundle.image_embeds(bundle.preprocess(pixels[idx]))
        txt = bundle.text_embeds(bundle.tokenize(caps))
        loss = clip_loss(img, txt, bundle.logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        bundle.clamp_logit_scale(LN_100)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    model.eval()
    record = {"train_minutes": round((time.time() - start) / 60, 1), "final_loss": float(np.mean(losses[-50:])),
              "threads": torch.get_num_threads()}
    return bundle, record
