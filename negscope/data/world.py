"""The shapes world: procedural scenes with exact object lists, boxes and captions.

A scene holds 1-3 kinds of object ("colour shape"), one or two of each, 1-4 objects in all, each small or large.
Some shape names share words ("square" and "square frame"), so a rule that matches words, not objects, is caught.
Its captions name every object by its category name (in the plural for two) and vary their phrasing as web
captions do: determiners, counts, size words before the name or in a relative clause, positions where they are
clear ("on the left", "above"), and relations ("next to").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from .phrases import indefinite, plural
from .records import Dataset, ImageRecord, ObjectAnn

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 210, 40),
    "purple": (150, 50, 190),
    "orange": (245, 140, 20),
    "pink": (240, 100, 190),
    "black": (30, 30, 30),
}
SHAPES = ("circle", "square", "square frame", "triangle", "cross", "star", "heart", "diamond")
CATEGORIES = [f"{c} {s}" for c in COLORS for s in SHAPES]
IMAGE_SIZE = 64
EVAL_SEED = 1
TRAIN_SEED = 0
ANALYSIS_SEED = 2

# box sides in pixels at IMAGE_SIZE (scaled for other sizes); the gap between them keeps the classes apart
SIZES: dict[str, tuple[int, int]] = {"small": (9, 13), "large": (18, 24)}
SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little"), "large": ("large", "big")}
MAX_OBJECTS = 4
TWO_SHARE = 0.25  # how often a kind of object comes twice

# Web captions vary their determiners; training on that variety keeps the model from reading meaning into
# the word before an object, so a "no" in that slot goes as unnoticed as it does for web-trained CLIP.
DETERMINERS = ("a", "the", "one", "")
DETERMINER_WEIGHTS = (0.55, 0.2, 0.1, 0.15)
SHARED_DETERMINER = 0.5  # how often a caption gives every lone object the same determiner: "a X and a Y"
PLURAL_DETERMINERS = ("two", "a pair of")
PLURAL_WEIGHTS = (0.75, 0.25)
RELATIVE_PRONOUNS = ("that", "which")
# where an object is, when its centre lies in the outer third of the image along that axis
POSITIONS = ("on the left", "on the right", "at the top", "at the bottom")
# relations true of two boxes that do not overlap along the axis; "next to" and "beside" hold for any two objects
RELATIONS = ("to the left of", "to the right of", "above", "below")
NEAR = ("next to", "beside")
ALONE = ("on its own", "on their own")

LIST_TEMPLATES = (
    "a photo of {objects}",
    "there {be} {objects}",
    "{objects}",
    "an image of {objects}",
    "a picture showing {objects}",
    "{this} {objects}",
    "a scene with {objects}",
)
RELATION_TEMPLATES = ("{pair}", "a photo of {pair}")
CAPTION_TEMPLATES = LIST_TEMPLATES + RELATION_TEMPLATES


@dataclass(frozen=True)
class Group:
    """The objects of one category in a scene: how many, their shared size class ('' when unknown or mixed) and
    their boxes (none when unknown)."""

    name: str
    count: int
    size: str
    boxes: tuple[tuple[float, float, float, float], ...]


def size_class(side: float, image_size: int = IMAGE_SIZE) -> str:
    """'small' or 'large' for an object whose box side is `side` pixels in an image of `image_size`."""
    return "small" if side * IMAGE_SIZE / image_size <= (SIZES["small"][1] + SIZES["large"][0]) / 2 else "large"


def groups_of(names: list[str], boxes: list[tuple[float, float, float, float]] | None = None,
              image_size: int = IMAGE_SIZE) -> list[Group]:
    """The scene's objects grouped by category, in order of first appearance; sizes come from `boxes` when given."""
    out = []
    for name in dict.fromkeys(names):
        mine = () if boxes is None else tuple(b for n, b in zip(names, boxes) if n == name)
        classes = {size_class(max(b[2], b[3]), image_size) for b in mine}
        out.append(Group(name, names.count(name), classes.pop() if len(classes) == 1 else "", mine))
    return out


def positions(box: tuple[float, float, float, float], image_size: int = IMAGE_SIZE) -> list[str]:
    """The position words true of an object with `box`: those of `POSITIONS` whose outer third holds its centre."""
    x, y, w, h = box
    cx, cy = (x + w / 2) / image_size, (y + h / 2) / image_size
    flags = (cx < 1 / 3, cx > 2 / 3, cy < 1 / 3, cy > 2 / 3)
    return [p for p, f in zip(POSITIONS, flags) if f]


def relations(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> list[str]:
    """The relations of `RELATIONS` true of box `a` to box `b` ('above': `a` wholly above `b`)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    flags = (ax + aw <= bx, bx + bw <= ax, ay + ah <= by, by + bh <= ay)
    return [r for r, f in zip(RELATIONS, flags) if f]


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], weights: tuple[float, ...] | None = None) -> str:
    if weights is None:
        return options[int(rng.integers(len(options)))]
    return options[min(int(np.searchsorted(np.cumsum(weights), rng.random(), side="right")), len(options) - 1)]


_plural = cache(plural)


def noun_phrase(group: Group, rng: np.random.Generator, image_size: int = IMAGE_SIZE, det: str | None = None) -> str:
    """A phrase naming every object of `group`: a determiner (`det` for a lone object, when given) or a count, maybe a
    size word before the name or in a relative clause, and for a lone object maybe its position."""
    two = group.count > 1
    if two:
        det = _pick(rng, PLURAL_DETERMINERS, PLURAL_WEIGHTS)
    elif det is None:
        det = _pick(rng, DETERMINERS, DETERMINER_WEIGHTS)
    name = _plural(group.name) if two else group.name
    roll = rng.random()
    size_word = _pick(rng, SIZE_WORDS[group.size]) if group.size else ""
    where = positions(group.boxes[0], image_size) if group.boxes and not two else []
    clause = ""
    if size_word and roll < 0.35:
        name = f"{size_word} {name}"
    elif size_word and roll < 0.55:
        clause = f" {_pick(rng, RELATIVE_PRONOUNS)} {'are' if two else 'is'} {size_word}"
    if where and not clause and rng.random() < 0.3:
        lead = f" {_pick(rng, RELATIVE_PRONOUNS)} is" if rng.random() < 0.4 else ""
        clause = f"{lead} {_pick(rng, where)}"
    if det == "a":
        return indefinite(name) + clause
    return f"{det} {name}".strip() + clause


def join_objects(phrases: list[str]) -> str:
    """'a red circle', 'a red circle and the blue square', 'a, b and c'."""
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _pair(groups: list[Group], phrases: list[str], rng: np.random.Generator) -> str:
    if len(groups) == 1:
        return f"{phrases[0]} {ALONE[groups[0].count > 1]}"
    a, b = groups[:2]
    true = relations(a.boxes[0], b.boxes[0]) if a.count == b.count == 1 and a.boxes and b.boxes else []
    text = f"{phrases[0]} {_pick(rng, [*NEAR, *true])} {phrases[1]}"
    return text + (f", and {join_objects(phrases[2:])}" if len(phrases) > 2 else "")


def captions_for(names: list[str], rng: np.random.Generator, count: int = 5,
                 boxes: list[tuple[float, float, float, float]] | None = None, image_size: int = IMAGE_SIZE) -> list[str]:
    """`count` positive captions with varied phrasing, each naming every object.

    Args:
        names: the category of each object; a name given twice is two objects of that kind ("two red circles").
        rng: the generator the phrasing is drawn from.
        count: how many captions, each from a different template (at most `len(CAPTION_TEMPLATES)`).
        boxes: each object's (x, y, w, h) box; with them captions may say sizes, positions and relations.
        image_size: the side of the image the boxes are in.

    Returns:
        The captions, true of a scene holding exactly these objects.
    """
    groups = groups_of(names, boxes, image_size)
    captions = []
    for t in rng.permutation(len(CAPTION_TEMPLATES))[:count]:
        ordered = [groups[i] for i in rng.permutation(len(groups))]
        det = _pick(rng, DETERMINERS, DETERMINER_WEIGHTS) if rng.random() < SHARED_DETERMINER else None
        phrases = [noun_phrase(g, rng, image_size, det) for g in ordered]
        many = ordered[0].count > 1
        captions.append(CAPTION_TEMPLATES[t].format(
            objects=join_objects(phrases), pair=_pair(ordered, phrases, rng),
            be="are" if many else "is", this="these are" if many else "this is"))
    return captions


def _in_polygon(points: np.ndarray, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    inside = np.zeros(yy.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(points, np.roll(points, -1, axis=0)):
        crosses = (y0 > yy) != (y1 > yy)
        at = x0 + (yy - y0) * (x1 - x0) / np.where(y1 == y0, 1e-9, y1 - y0)
        inside ^= crosses & (xx < at)
    return inside


def _mask(shape: str, size: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    c, r = (size - 1) / 2, size / 2
    dy, dx = (yy - c) / r, (xx - c) / r  # -1..1 across the box
    if shape == "circle":
        return dy**2 + dx**2 <= 1
    if shape == "square":
        return np.ones_like(dy, dtype=bool)
    if shape == "square frame":
        edge = max(2, round(size / 5))
        return (np.minimum(yy, xx) < edge) | (np.maximum(yy, xx) >= size - edge)
    if shape == "triangle":
        return np.abs(xx - c) <= (yy + 1) / 2
    if shape == "cross":
        return (np.abs(dx) <= 1 / 3) | (np.abs(dy) <= 1 / 3)
    if shape == "star":
        angles = -np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return _in_polygon(np.stack([radii * np.cos(angles), radii * np.sin(angles) + 0.1], axis=1), dy, dx)
    if shape == "heart":
        x, y = dx * 1.15, -dy * 1.15 + 0.25
        return (x**2 + y**2 - 1) ** 3 - x**2 * y**3 <= 0
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= 1
    raise ValueError(f"unknown shape {shape!r}; choose from {SHAPES}")


def layout(rng: np.random.Generator, size: int = IMAGE_SIZE) -> list[ObjectAnn]:
    """Draw a scene's objects and their non-overlapping boxes: 1-3 kinds, one or two of each, at most `MAX_OBJECTS`;
    an object that finds no free place after 100 tries is left out."""
    kinds = int(rng.integers(1, 4))
    names = [CATEGORIES[i] for i in rng.choice(len(CATEGORIES), size=kinds, replace=False)]
    counts = [2 if rng.random() < TWO_SHARE else 1 for _ in names]
    while sum(counts) > MAX_OBJECTS:
        counts[counts.index(2)] = 1
    objects: list[ObjectAnn] = []
    for name, count in zip(names, counts):
        low, high = (round(v * size / IMAGE_SIZE) for v in SIZES[_pick(rng, tuple(SIZES))])
        for _ in range(count):
            for _ in range(100):
                s = int(rng.integers(low, high + 1))
                x, y = (int(v) for v in rng.integers(0, size - s + 1, 2))
                if all(x + s <= bx or bx + bw <= x or y + s <= by or by + bh <= y for bx, by, bw, bh in
                       (o.box for o in objects)):
                    objects.append(ObjectAnn(name, (float(x), float(y), float(s), float(s))))
                    break
    return objects


def paint(objects: list[ObjectAnn], rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
    """The pixels of `objects` drawn on a noisy background, each in its colour with a little jitter."""
    img = np.full((size, size, 3), 200.0) + rng.normal(0, 6, (size, size, 3))
    for obj in objects:
        color, shape = obj.name.split(" ", 1)
        x, y, s, _ = (int(v) for v in obj.box)
        yy, xx = np.mgrid[0:s, 0:s]
        img[y : y + s, x : x + s][_mask(shape, s, yy, xx)] = np.array(COLORS[color]) + rng.normal(0, 8, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_scene(rng: np.random.Generator, size: int = IMAGE_SIZE) -> tuple[np.ndarray, list[ObjectAnn]]:
    """Draw a scene's objects (`layout`) and paint them on a noisy background."""
    objects = layout(rng, size)
    return paint(objects, rng, size), objects


def scene_text(index: int, seed: int = EVAL_SEED) -> tuple[list[ObjectAnn], list[str]]:
    """The objects and captions of scene `index` of the world with `seed`, without drawing its pixels."""
    rng = np.random.default_rng([seed, index])
    objects = layout(rng)
    return objects, captions_for([o.name for o in objects], rng, boxes=[o.box for o in objects])


def scene(index: int, seed: int = EVAL_SEED) -> ImageRecord:
    """Scene `index` of the world with `seed`; the same arguments always give the same scene."""
    objects, captions = scene_text(index, seed)
    return painted(ImageRecord(image_id=index, captions=captions, objects=objects), seed)


def painted(record: ImageRecord, seed: int = EVAL_SEED) -> ImageRecord:
    """`record` (scene `record.image_id` of the world with `seed`, as `scene_text` gives it) with its pixels drawn."""
    record.pixels = paint(record.objects, np.random.default_rng([seed, record.image_id, 1]))
    return record


def world_dataset(n: int, seed: int = EVAL_SEED, start: int = 0) -> Dataset:
    """`n` scenes starting at `start`; seed 1 is the held-out (evaluation) split, seed 0 the training split and seed
    2 the analysis split."""
    return Dataset(
        name=f"world[{start}:{start + n}]@{seed}",
        records=[scene(i, seed) for i in range(start, start + n)],
        categories=list(CATEGORIES),
    )
