"""The shapes world: procedural scenes with exact object lists, boxes and captions."""

from __future__ import annotations

import numpy as np

from .phrases import indefinite
from .records import Dataset, ImageRecord, ObjectAnn

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 210, 40),
    "purple": (150, 50, 190),
}
SHAPES = ("circle", "square", "triangle", "cross")
CATEGORIES = [f"{c} {s}" for c in COLORS for s in SHAPES]
IMAGE_SIZE = 64
EVAL_SEED = 1
TRAIN_SEED = 0
ANALYSIS_SEED = 2

CAPTION_TEMPLATES = (
    "a photo of {objects}",
    "there is {objects}",
    "{objects}",
    "an image of {objects}",
    "{pair}",
    "a picture showing {objects}",
    "this is {objects}",
)


# Web captions vary their determiners; training on that variety keeps the model from reading meaning into
# the word before an object, so a "no" in that slot goes as unnoticed as it does for web-trained CLIP.
DETERMINERS = ("a", "the", "one", "")
DETERMINER_WEIGHTS = (0.55, 0.2, 0.1, 0.15)


def noun_phrase(name: str, determiner: str) -> str:
    """`name` after `determiner`: 'a' gives the indefinite article, '' the bare name."""
    if determiner == "a":
        return indefinite(name)
    return f"{determiner} {name}".strip()


def join_objects(names: list[str], determiners: list[str]) -> str:
    """'a red circle', 'a red circle and the blue square', 'a, b and c'."""
    phrases = [noun_phrase(n, d) for n, d in zip(names, determiners)]
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _pair_phrase(names: list[str], determiners: list[str]) -> str:
    if len(names) == 1:
        return f"{noun_phrase(names[0], determiners[0])} on its own"
    return f"{noun_phrase(names[0], determiners[0])} next to {join_objects(names[1:], determiners[1:])}"


def captions_for(names: list[str], rng: np.random.Generator, count: int = 5) -> list[str]:
    """`count` positive captions with varied phrasing and determiners, each naming every object once."""
    order = rng.permutation(len(CAPTION_TEMPLATES))[:count]
    captions = []
    for t in order:
        shuffled = [names[i] for i in rng.permutation(len(names))]
        dets = [str(d) for d in rng.choice(DETERMINERS, size=len(names), p=DETERMINER_WEIGHTS)]
        captions.append(
            CAPTION_TEMPLATES[t].format(objects=join_objects(shuffled, dets), pair=_pair_phrase(shuffled, dets))
        )
    return captions


def _mask(shape: str, size: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    c = (size - 1) / 2
    dy, dx = yy - c, xx - c
    if shape == "circle":
        return dy**2 + dx**2 <= (size / 2) ** 2
    if shape == "square":
        return np.ones_like(dy, dtype=bool)
    if shape == "triangle":
        return np.abs(dx) <= (yy + 1) / 2
    if shape == "cross":
        arm = size / 6
        return (np.abs(dx) <= arm) | (np.abs(dy) <= arm)
    raise ValueError(f"unknown shape {shape!r}; choose from {SHAPES}")


def render_scene(rng: np.random.Generator, size: int = IMAGE_SIZE) -> tuple[np.ndarray, list[ObjectAnn]]:
    """Draw 1-3 distinct non-overlapping objects on a noisy background."""
    n = int(rng.integers(1, 4))
    names = [CATEGORIES[i] for i in rng.choice(len(CATEGORIES), size=n, replace=False)]
    img = np.full((size, size, 3), 200.0) + rng.normal(0, 6, (size, size, 3))
    objects: list[ObjectAnn] = []
    boxes: list[tuple[int, int, int]] = []
    for name in names:
        color, shape = name.split(" ")
        for _ in range(100):
            s = int(rng.integers(size // 5, size // 3))
            x, y = (int(v) for v in rng.integers(0, size - s, 2))
            if all(x + s <= bx or bx + bs <= x or y + s <= by or by + bs <= y for bx, by, bs in boxes):
                break
        else:
            continue
        yy, xx = np.mgrid[0:s, 0:s]
        m = _mask(shape, s, yy, xx)
        rgb = np.array(COLORS[color]) + rng.normal(0, 8, 3)
        img[y : y + s, x : x + s][m] = rgb
        boxes.append((x, y, s))
        objects.append(ObjectAnn(name, (float(x), float(y), float(s), float(s))))
    return np.clip(img, 0, 255).astype(np.uint8), objects


def scene(index: int, seed: int = EVAL_SEED) -> ImageRecord:
    """Scene `index` of the world with `seed`; the same arguments always give the same scene."""
    rng = np.random.default_rng([seed, index])
    pixels, objects = render_scene(rng)
    captions = captions_for([o.name for o in objects], rng)
    return ImageRecord(image_id=index, captions=captions, objects=objects, pixels=pixels)


def world_dataset(n: int, seed: int = EVAL_SEED, start: int = 0) -> Dataset:
    """`n` scenes starting at `start`; seed 1 is the held-out (evaluation) split, seed 0 the training split and seed
    2 the analysis split."""
    return Dataset(
        name=f"world[{start}:{start + n}]@{seed}",
        records=[scene(i, seed) for i in range(start, start + n)],
        categories=list(CATEGORIES),
    )
