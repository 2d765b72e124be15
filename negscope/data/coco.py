"""COCO-format folders: find a split, load its captions, instances and images; export any dataset as one.

A COCO folder is a root holding `annotations/captions_<split>.json` and `annotations/instances_<split>.json` (or the
two files beside the images), with the images in `<root>/<split>/`, `<root>/images/` or the root itself. The data
spec may name the root (the split is then `--split`, else val2017 when present, else the only split) or a split's
image folder such as `coco/val2017`.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import write_json
from .records import DataError, Dataset, ImageRecord, ObjectAnn

if TYPE_CHECKING:
    from .splits import Part

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_SPLIT = "val2017"
LAYOUT = ("a COCO-format folder holds annotations/captions_<split>.json and annotations/instances_<split>.json, "
          "and the images in <folder>/<split>/")
CHECK_SIZE = 64  # images are decoded at about this size to check them: a JPEG decodes at 1/8 scale, quickly


def coco_splits(folder: Path) -> dict[str, Path]:
    """The splits whose captions file lies in `folder` or `folder/annotations`, by name."""
    found = sorted(folder.glob("captions_*.json")) + sorted(folder.glob("annotations/captions_*.json"))
    return {p.stem.split("_", 1)[1]: p.parent for p in reversed(found)}


def coco_split(folder: str | Path, split: str | None = None, prefer: str = DEFAULT_SPLIT) -> tuple[Path, str, Path]:
    """The root, split and annotation folder that `folder` (a COCO root or one split's image folder) names; without
    `split`, the split is `prefer` when present, else the only one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist; pass a COCO-format folder, 'world' or 'world:N'")
    splits = coco_splits(folder)
    if not splits and folder.name in coco_splits(folder.parent):
        if split not in (None, folder.name):
            raise DataError(f"data folder {folder} is the image folder of split {folder.name!r}, but --split is "
                            f"{split!r}; pass the COCO root {folder.parent} with --split {split}, or drop --split")
        return folder.parent, folder.name, coco_splits(folder.parent)[folder.name]
    if not splits:
        raise DataError(f"no captions_*.json in {folder} or {folder / 'annotations'}; {LAYOUT}")
    if split is None:
        if prefer not in splits and len(splits) > 1:
            raise DataError(f"{folder} holds the splits {', '.join(sorted(splits))}; choose one with --split")
        split = prefer if prefer in splits else next(iter(splits))
    if split not in splits:
        raise DataError(f"{folder} has no split {split!r} (no captions_{split}.json); it holds "
                        f"{', '.join(sorted(splits))}: pass one of them to --split")
    return folder, split, splits[split]


def _read(path: Path, keys: tuple[str, ...]) -> dict:
    if not path.is_file():
        raise DataError(f"annotation file {path} is missing; {LAYOUT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"annotation file {path} is not valid JSON ({err}); restore it from the original archive") from err
    if not isinstance(data, dict):
        raise DataError(f"annotation file {path} holds a {type(data).__name__}, not a COCO object; restore it")
    for key in keys:
        if not isinstance(data.get(key), list):
            raise DataError(f"annotation file {path} has no list {key!r}; restore it from the original archive")
    return data


def _entry(what: str, item: Any, index: int) -> str:
    """An annotation entry as a reader finds it: its place in the list and its id."""
    known = f" (id {item['id']})" if isinstance(item, dict) and "id" in item else ""
    return f"{what} #{index}{known}"


def _field(item: Any, key: str, kind: type | tuple[type, ...], path: Path, what: str, index: int) -> Any:
    """`item[key]` when it is of `kind`, else a `DataError` naming the entry and the file."""
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        state = "no" if value is None else f"a bad ({value!r})"
        raise DataError(f"{_entry(what, item, index)} in {path} has {state} {key!r}; fix the entry or restore the file")
    return value


def _box(item: Any, path: Path, index: int) -> tuple[float, ...]:
    box = _field(item, "bbox", list, path, "instance annotation", index)
    if len(box) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
        raise DataError(f"{_entry('instance annotation', item, index)} in {path} has a bad 'bbox' ({box!r}); it needs "
                        "[x, y, w, h]")
    return tuple(box)


def _image_dir(root: Path, split: str) -> Path:
    for cand in (root / split, root / "images", root):
        if cand.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in cand.iterdir()):
            return cand
    return root / split


def _readable(path: Path, folder: Path | None) -> str | None:
    from PIL import Image

    if folder is not None and not path.resolve().is_relative_to(folder.resolve()):
        return f"outside the image folder {folder}"
    if not path.is_file():
        return "missing"
    try:
        with Image.open(path) as img:
            img.draft("RGB", (CHECK_SIZE, CHECK_SIZE))
            img.load()
    except Exception as err:  # noqa: BLE001 - a bad file can fail anywhere in a decoder; each way means unreadable
        return f"unreadable ({type(err).__name__}: {err})"
    return None


def usable_images(paths: list[Path], whats: list[str], strict: bool, skipped: list[str], fix: str,
                  folder: Path | None = None, want: int | None = None) -> list[int]:
    """The indices of `paths` whose images decode (inside `folder` when given), in order, stopping at `want`; each
    bad one's reason, naming it with `whats`, joins `skipped`, or is a `DataError` that adds `fix` when `strict`."""
    keep: list[int] = []
    with ThreadPoolExecutor(max_workers=4) as pool:  # decoding releases the GIL
        for start in range(0, len(paths), 256):
            for i, problem in enumerate(pool.map(partial(_readable, folder=folder), paths[start:start + 256]), start):
                if want is not None and len(keep) >= want:
                    return keep
                if problem is None:
                    keep.append(i)
                    continue
                msg = f"image {paths[i]}{whats[i]} is {problem}"
                if strict:
                    raise DataError(f"{msg}; {fix}, or drop --strict to skip bad images")
                skipped.append(msg)
    return keep


def load_coco(folder: str | Path, strict: bool = False, split: str | None = None, limit: int | None = None,
              prefer: str = DEFAULT_SPLIT, part: Part | None = None) -> Dataset:
    """Load one split of a COCO-format folder (see the module docstring), at most `limit` images of `part` of it (the
    images with captions in id order; default: all); bad images are skipped and counted, or fatal when `strict`."""
    root, split, notes = coco_split(folder, split, prefer)
    cap_path, inst_path = notes / f"captions_{split}.json", notes / f"instances_{split}.json"
    caps = _read(cap_path, ("images", "annotations"))
    inst = _read(inst_path, ("annotations", "categories"))
    image_dir = _image_dir(root, split)
    cat_names = {_field(c, "id", int, inst_path, "category", i): _field(c, "name", str, inst_path, "category", i)
                 for i, c in enumerate(inst["categories"])}
    captions: dict[int, list[str]] = defaultdict(list)
    for i, ann in enumerate(caps["annotations"]):
        image_id = _field(ann, "image_id", int, cap_path, "caption annotation", i)
        text = _field(ann, "caption", str, cap_path, "caption annotation", i).strip()
        if not text:
            raise DataError(f"{_entry('caption annotation', ann, i)} for image {image_id} in {cap_path} is empty; "
                            "give it text or delete the annotation")
        captions[image_id].append(text)
    objects: dict[int, list[ObjectAnn]] = defaultdict(list)
    for i, ann in enumerate(inst["annotations"]):
        image_id = _field(ann, "image_id", int, inst_path, "instance annotation", i)
        cat = _field(ann, "category_id", int, inst_path, "instance annotation", i)
        if cat not in cat_names:
            raise DataError(f"{_entry('instance annotation', ann, i)} in {inst_path} has category_id {cat}, which 'categories' does "
                            f"not list; add the category or fix the id")
        objects[image_id].append(ObjectAnn(cat_names[cat], _box(ann, inst_path, i)))
    images = [(_field(img, "id", int, cap_path, "image", i), _field(img, "file_name", str, cap_path, "image", i))
              for i, img in enumerate(caps["images"])]
    images = sorted((image_id, name) for image_id, name in images if captions[image_id])
    images = [im for rank, im in enumerate(images) if part is None or part.holds(rank)]
    skipped: list[str] = []
    keep = usable_images([image_dir / name for _, name in images], [""] * len(images), strict, skipped,
                         "restore the file", folder=image_dir, want=limit)
    records = [ImageRecord(images[i][0], captions[images[i][0]], objects[images[i][0]], path=image_dir / images[i][1])
               for i in keep]
    if skipped:
        warnings.warn(f"skipped {len(skipped)} bad image(s) in {root} ({split}), first: {skipped[0]}", stacklevel=2)
    if not records:
        within = f" in its {part.role} split" if part else ""
        raise DataError(f"{root} ({split}) holds no readable image with captions{within}; check the image folder "
                        f"{image_dir}, or give more images")
    return Dataset(f"{root.name}/{split}", records, list(dict.fromkeys(cat_names.values())), skipped,
                   part.describe() if part else "")


def export_coco(dataset: Dataset, folder: str | Path, split: str = DEFAULT_SPLIT, suffix: str = ".png") -> Path:
    """Write `dataset` as a COCO-format folder: images (lossless PNG unless `suffix` is '.jpg') plus the captions and
    instances JSON."""
    from PIL import Image

    folder = Path(folder)
    (folder / split).mkdir(parents=True, exist_ok=True)
    cat_ids = {name: i + 1 for i, name in enumerate(dataset.categories)}
    images, cap_anns, inst_anns = [], [], []
    for rec in dataset:
        pixels: np.ndarray = rec.load_pixels()
        file_name = f"{rec.image_id:012d}{suffix}"
        Image.fromarray(pixels).save(folder / split / file_name, quality=95, subsampling=0)
        images.append({"id": rec.image_id, "file_name": file_name, "height": pixels.shape[0], "width": pixels.shape[1]})
        for cap in rec.captions:
            cap_anns.append({"id": len(cap_anns) + 1, "image_id": rec.image_id, "caption": cap})
        for obj in rec.objects:
            x, y, w, h = obj.box
            inst_anns.append(
                {"id": len(inst_anns) + 1, "image_id": rec.image_id, "category_id": cat_ids[obj.name],
                 "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0}
            )
    categories = [{"id": i, "name": n, "supercategory": n.split(" ")[-1]} for n, i in cat_ids.items()]
    write_json(folder / "annotations" / f"captions_{split}.json", {"images": images, "annotations": cap_anns})
    write_json(
        folder / "annotations" / f"instances_{split}.json",
        {"images": images, "annotations": inst_anns, "categories": categories},
    )
    return folder
