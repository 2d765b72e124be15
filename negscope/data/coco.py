"""COCO-format folders: load captions, instances and images; export any dataset as one."""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..io import write_json
from .records import DataError, Dataset, ImageRecord, ObjectAnn


def _find(folder: Path, kind: str) -> Path:
    hits = sorted(folder.glob(f"{kind}_*.json")) + sorted(folder.glob(f"annotations/{kind}_*.json"))
    if not hits:
        raise DataError(
            f"no {kind}_*.json in {folder} or {folder / 'annotations'}; a COCO-format folder needs "
            f"annotations/captions_<split>.json and annotations/instances_<split>.json"
        )
    return hits[0]


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"annotation file {path} is not valid JSON ({err}); restore it from the original archive") from err


def _image_dir(folder: Path, split: str) -> Path:
    for cand in (folder / split, folder / "images", folder):
        if cand.is_dir() and any(cand.glob("*.jp*g")):
            return cand
    return folder / "images"


def _readable(path: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return "missing"
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError) as err:
        return f"unreadable ({err})"
    return None


def usable(path: Path, what: str, strict: bool, skipped: list[str], fix: str) -> bool:
    """Whether the image at `path` reads; if not, the reason (naming `what`) joins `skipped`, or is a `DataError`
    that adds `fix` when `strict`."""
    problem = _readable(path)
    if problem:
        msg = f"image {path}{what} is {problem}"
        if strict:
            raise DataError(f"{msg}; {fix}, or drop --strict to skip bad images")
        skipped.append(msg)
    return problem is None


def load_coco(folder: str | Path, strict: bool = False) -> Dataset:
    """Load a COCO-format folder; bad images are skipped and counted, or fatal when `strict`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist; pass a COCO-format folder or 'world[:N]'")
    cap_path, inst_path = _find(folder, "captions"), _find(folder, "instances")
    caps, inst = _read(cap_path), _read(inst_path)
    split = cap_path.stem.split("_", 1)[1]
    image_dir = _image_dir(folder, split)
    cat_names = {c["id"]: c["name"] for c in inst.get("categories", [])}
    captions: dict[int, list[str]] = defaultdict(list)
    for ann in caps.get("annotations", []):
        text = str(ann.get("caption", "")).strip()
        if not text:
            raise DataError(
                f"caption annotation {ann.get('id')} for image {ann['image_id']} in {cap_path} is empty; "
                "give it text or delete the annotation"
            )
        captions[ann["image_id"]].append(text)
    objects: dict[int, list[ObjectAnn]] = defaultdict(list)
    for ann in inst.get("annotations", []):
        objects[ann["image_id"]].append(ObjectAnn(cat_names[ann["category_id"]], tuple(ann["bbox"])))
    records, skipped = [], []
    for img in sorted(caps.get("images", []), key=lambda i: i["id"]):
        path = image_dir / img["file_name"]
        if not captions[img["id"]]:
            continue
        if usable(path, "", strict, skipped, "restore the file"):
            records.append(ImageRecord(img["id"], captions[img["id"]], objects[img["id"]], path=path))
    if skipped:
        warnings.warn(f"skipped {len(skipped)} bad image(s) in {folder}, first: {skipped[0]}", stacklevel=2)
    if not records:
        raise DataError(f"{folder} holds no readable image with captions; check the image folder {image_dir}")
    return Dataset(folder.name, records, sorted(set(cat_names.values())), skipped)


def export_coco(dataset: Dataset, folder: str | Path, split: str = "val") -> Path:
    """Write `dataset` as a COCO-format folder: JPEGs plus captions and instances JSON."""
    from PIL import Image

    folder = Path(folder)
    (folder / split).mkdir(parents=True, exist_ok=True)
    cat_ids = {name: i + 1 for i, name in enumerate(dataset.categories)}
    images, cap_anns, inst_anns = [], [], []
    for rec in dataset:
        pixels: np.ndarray = rec.load_pixels()
        file_name = f"{rec.image_id:012d}.jpg"
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
