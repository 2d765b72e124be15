"""Pretrain the shipped shapes-world CLIP on positive captions only, and write its model card."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import CLIPImageProcessorPil, CLIPModel

from ..data import world_dataset
from ..data.negation import build_negations
from ..data.vocabulary import vocabulary
from ..data.world import DETERMINERS, TRAIN_SEED
from ..evaluation.features import image_features
from ..evaluation.negation import absence_accuracy, presence_accuracy, swap_accuracy
from ..evaluation.retrieval import retrieval
from ..finetune.losses import clip_loss
from ..finetune.schedule import warmup_cosine
from ..io import write_json, write_text
from ..models import ClipBundle
from ..models.configs import clip_config
from ..models.tokenizer import build_tokenizer

LN_100 = float(np.log(100.0))


@dataclass
class WorldTrainConfig:
    """Settings for `negscope world train`."""

    out: str
    size: str = "world"
    steps: int = 2000
    batch_size: int = 160
    lr: float = 7e-4
    weight_decay: float = 0.1
    warmup: int = 150
    pool: int = 20000
    eval_scenes: int = 1000
    seed: int = 0


def new_world_bundle(size: str = "world", seed: int = 0) -> ClipBundle:
    """A freshly initialised CLIP of `size` with the world tokenizer and image processor."""
    tok = build_tokenizer(vocabulary())
    torch.manual_seed(seed)
    model = CLIPModel(clip_config(size, tok))
    s = model.config.vision_config.image_size
    proc = CLIPImageProcessorPil(size={"shortest_edge": s}, crop_size={"height": s, "width": s})
    return ClipBundle(size, model, tok, proc)


def world_metrics(bundle: ClipBundle, scenes: int = 1000) -> dict[str, float]:
    """Held-out retrieval, swap, presence and absence accuracy on `scenes` world scenes."""
    ds = world_dataset(scenes)
    negs = build_negations(ds, seed=0)
    feats = image_features(bundle, ds)
    r = retrieval(bundle, feats, ds, ks=(1, 5))
    return {
        "i2t_r1": r["i2t_r1"],
        "i2t_r5": r["i2t_r5"],
        "t2i_r1": r["t2i_r1"],
        "swap_accuracy": swap_accuracy(bundle, feats, negs),
        "presence_accuracy": presence_accuracy(bundle, feats, negs),
        "absence_accuracy": absence_accuracy(bundle, feats, negs),
    }


def train_world(cfg: WorldTrainConfig, progress: bool = True) -> dict:
    """Train, evaluate and save a world CLIP to `cfg.out`; returns the measured figures."""
    start = time.time()
    bundle = new_world_bundle(cfg.size, cfg.seed)
    pool = world_dataset(cfg.pool, seed=TRAIN_SEED)
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
        loss = clip_loss(img, txt, model.logit_scale.exp())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, LN_100)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    model.eval()
    train_minutes = (time.time() - start) / 60
    metrics = world_metrics(bundle, cfg.eval_scenes)
    out = Path(cfg.out)
    bundle.save(out)
    card = {"config": asdict(cfg), "train_minutes": round(train_minutes, 1), "metrics": metrics,
            "final_loss": float(np.mean(losses[-50:])), "threads": torch.get_num_threads()}
    write_json(out / "training.json", card)
    write_text(out / "MODEL_CARD.md", model_card(card))
    return card


def model_card(card: dict) -> str:
    """The Markdown model card for a trained world model."""
    c, m = card["config"], card["metrics"]
    words = ", ".join(d or "none" for d in DETERMINERS)
    return f"""# negscope world CLIP

A CLIP (`transformers.CLIPModel`) trained from scratch by negscope on its procedural shapes world, with
positive captions only. It knows its objects but has never seen a negation word in training, so, like
web-trained CLIP, it is blind to negation. The captions vary their phrasing ("a photo of ...", "there is
...", "... next to ...") and the word before each object ({words}), as web captions do, so the model
does not read meaning into that slot, where a presence negation puts its "no".

- Made by: `negscope world train --out {c['out']} --steps {c['steps']} --batch-size {c['batch_size']} --seed {c['seed']}`
- Seed: {c['seed']}; training scenes: a pool of {c['pool']} (world seed 0); evaluation scenes: {card['config']['eval_scenes']} held out (world seed 1)
- Training time: {card['train_minutes']} minutes on {card['threads']} CPU threads; final loss {card['final_loss']:.3f}

| measure (held-out scenes) | value |
|---|---|
| image-to-text R@1 | {m['i2t_r1']:.3f} |
| image-to-text R@5 | {m['i2t_r5']:.3f} |
| text-to-image R@1 | {m['t2i_r1']:.3f} |
| swap accuracy (true caption beats one with a present object replaced by an absent one) | {m['swap_accuracy']:.3f} |
| presence accuracy (true caption beats one negating a present object) | {m['presence_accuracy']:.3f} |
| absence accuracy ("..., with no X" beats "..., with a X" for absent X) | {m['absence_accuracy']:.3f} |
"""
