"""Pretraining the shapes-world CLIP from scratch, and its held-out measures.

Its captions are the training scenes' positive captions, except a small share (`negated_share`) that, as in web
captions, say truly that something is not there, in a form drawn from every negation form. What they negate is an
object the world never shows nor names (a COCO category: "…, with no bicycle"), as web captions mostly negate what no
label of the image covers: so the model reads each form's words hundreds of times without being taught what negating
one of its own objects means. (Negating world objects, even truly, teaches it: a model pretrained that way scored
presence and absence accuracy of 0.94.) Each step's draw is a pure
function of the seed and the step, so the captions pretraining reads can be counted without drawing an image.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from functools import cache
from typing import NamedTuple

import numpy as np
import torch

from ..data import world_dataset
from ..data.combinations import held_out_categories
from ..data.forms import EXAMPLE, FORMS
from ..data.phrases import coco_categories
from ..data.world import CATEGORIES, TRAIN_SEED, scene_text
from ..evaluation.suite import evaluate
from ..models import ClipBundle, new_bundle
from ..progress import tqdm
from .config import WorldTrainConfig
from .losses import clip_loss
from .schedule import warmup_cosine
from .trainer import LN_100


def world_metrics(bundle: ClipBundle, scenes: int = 1000) -> dict[str, float]:
    """The model card's figures from the full evaluation on `scenes` held-out world scenes."""
    row = evaluate(bundle, world_dataset(scenes), held_out=held_out_categories())
    names = ("i2t_r1", "i2t_r5", "t2i_r1", "swap_accuracy", "presence_accuracy", "absence_accuracy", "flip_rate",
             "held_out_combinations", "seen_combinations")
    return {name: row.metric(name) for name in names}


class Draw(NamedTuple):
    """One caption of a pretraining batch: its scene, which of the scene's captions (a fraction of their number),
    whether it is negated, and the form and the absent object (a fraction of their number) that negate it."""

    scene: int
    caption: float
    negated: bool
    form: int
    absent: float


def step_draws(cfg: WorldTrainConfig, step: int) -> list[Draw]:
    """The draws of pretraining step `step`: `cfg.batch_size` distinct scenes of the pool, a function of the seed and
    the step alone."""
    rng = np.random.default_rng([cfg.seed, step])
    n = cfg.batch_size
    columns = (rng.choice(cfg.pool, size=n, replace=False), rng.random(n), rng.random(n) < cfg.negated_share,
               rng.integers(len(FORMS), size=n), rng.random(n))
    return [Draw(int(s), float(c), bool(g), int(f), float(a)) for s, c, g, f, a in zip(*columns)]


@cache
def unseen_objects() -> tuple[str, ...]:
    """What pretraining's negations negate: the COCO categories that share no word with a world category name."""
    words = {w for c in CATEGORIES for w in c.split()}
    return tuple(c for c in coco_categories() if not words & set(c.split()))


def training_caption(draw: Draw, captions: list[str], present: list[str]) -> str:
    """The caption `draw` picks among a scene's `captions`; a negated draw gives its form's true negation of one of
    the `unseen_objects`."""
    caption = captions[int(draw.caption * len(captions))]
    if not draw.negated:
        return caption
    absent = unseen_objects()
    form = FORMS[list(FORMS)[draw.form]]
    return form.absence(caption, absent[int(draw.absent * len(absent))], present)[0]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def form_words() -> dict[str, list[str]]:
    """Per negation form, the words its negation adds to a caption: 'without' for '..., without a X'."""
    return {name: sorted(set(_words(f.example)) - set(_words(EXAMPLE))) for name, f in FORMS.items()}


def negation_word_counts(cfg: WorldTrainConfig) -> dict[str, int]:
    """How often each word of every negation form occurs in the negated captions pretraining with `cfg` reads.

    Args:
        cfg: the pretraining settings; the count follows their seed, steps, batch size, pool and negated share.

    Returns:
        Every form's words, each with its number of occurrences (a word that only a negation brings, such as
        'without', occurs nowhere else in the captions).
    """
    words = sorted({w for ws in form_words().values() for w in ws})
    counts = Counter()
    for step in range(cfg.steps):
        for draw in step_draws(cfg, step):
            if draw.negated:
                objects, captions = scene_text(draw.scene, TRAIN_SEED)
                present = list(dict.fromkeys(o.name for o in objects))
                counts.update(w for w in _words(training_caption(draw, captions, present)) if w in words)
    return {w: counts[w] for w in words}


def pretrain_world(cfg: WorldTrainConfig, progress: bool = True) -> tuple[ClipBundle, dict]:
    """A new world CLIP trained with the CLIP loss on `cfg.pool` training scenes, `cfg.negated_share` of the captions
    true negations; returns it (in eval mode) and its loss record."""
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
    losses = []
    bar = tqdm(range(cfg.steps), desc="world pretraining", disable=not progress)
    for step in bar:
        draws = step_draws(cfg, step)
        idx = np.array([d.scene for d in draws])
        caps = [training_caption(d, pool[d.scene].captions, pool[d.scene].present) for d in draws]
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
