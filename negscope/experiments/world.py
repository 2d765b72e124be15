"""`negscope world train`: pretrain the shipped shapes-world CLIP, save it and write its model card."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..data.world import DETERMINERS
from ..finetune.config import WorldTrainConfig
from ..finetune.pretrain import negation_word_counts, pretrain_world, world_metrics
from ..io import write_json, write_text


def run_world_training(cfg: WorldTrainConfig, out: str | Path, progress: bool = True) -> dict:
    """Train, evaluate and save a world CLIP to `out`; returns the measured figures."""
    bundle, record = pretrain_world(cfg, progress)
    metrics = world_metrics(bundle, cfg.eval_scenes)
    out = Path(out)
    bundle.save(out, half=True)
    card = {"config": asdict(cfg), "out": str(out), "train_minutes": record["train_minutes"], "metrics": metrics,
            "final_loss": record["final_loss"], "threads": record["threads"],
            "negation_words": negation_word_counts(cfg)}
    write_json(out / "training.json", card)
    write_text(out / "MODEL_CARD.md", model_card(card))
    return card


def model_card(card: dict) -> str:
    """The Markdown model card for a trained world model."""
    c, m = card["config"], card["metrics"]
    words = ", ".join(d or "none" for d in DETERMINERS)
    seen = ", ".join(f"{w} {n}" for w, n in card["negation_words"].items())
    return f"""# negscope world CLIP

A CLIP (Hugging Face CLIP layout) trained from scratch by negscope on its procedural shapes world. Its
captions are positive, except {c['negated_share']:.0%} that, as in web captions, truly say that something is
not there, in the wordings of every negation form; what they negate is an object the world never shows nor
names (a COCO category: "..., with no bicycle"). So it has read the negation words without being taught what
negating one of its own objects means, and like web-trained CLIP it is blind to negation. The captions vary their phrasing ("a
photo of ...", "there is ...", "... next to ...", "... that is small"), counts, sizes and positions, and the
word before each object ({words}), as web captions do, so the model does not read meaning into that slot,
where a presence negation puts its "no".

Times each negation form's words occur in the negated training captions: {seen}.

- Made by: `negscope world train --out {card['out']} --steps {c['steps']} --batch-size {c['batch_size']} --seed {c['seed']}`
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
| "This is not c" scores at least as high as c (share of captions) | {m['flip_rate']:.3f} |
| presence and absence accuracy on pairs naming a category fine-tuning holds out | {m['held_out_combinations']:.3f} |
| the same on pairs naming only categories fine-tuning sees | {m['seen_combinations']:.3f} |
"""


def export_world(out: str | Path, n: int) -> Path:
    """Write `n` held-out world scenes (the scenes of `--data world:N`) to `out` as a COCO-format folder, with
    lossless PNG images, so that other tools read exactly the scenes negscope reads."""
    from ..data import export_coco, world_dataset

    if n <= 0:
        raise ValueError(f"--n {n} must be a positive number of scenes")
    return export_coco(world_dataset(n), out)
