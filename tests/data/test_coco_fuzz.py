"""Fuzzing a COCO-format folder: each of 100 seeded random mutations must end `negscope negations` in a one-line
error, or in a run whose records are those of the intact folder less the images it skipped and counted: never a
traceback, never exit 0 with records that differ without a counted skip."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from negscope.data import export_coco, load_dataset, world_dataset

IMAGES = 4


def _records(ds) -> list[tuple]:
    return [(r.image_id, list(r.captions), [(o.name, tuple(o.box)) for o in r.objects]) for r in ds]


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> tuple[Path, list[tuple]]:
    """A four-image COCO folder (three PNG images, one JPEG) and its records as loaded intact."""
    base = tmp_path_factory.mktemp("coco_fuzz") / "base"
    export_coco(world_dataset(IMAGES), base)
    png = min((base / "val2017").glob("*.png"))
    with Image.open(png) as img:
        img.convert("RGB").save(png.with_suffix(".jpg"), quality=95)
    png.unlink()
    for path in sorted((base / "annotations").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data["images"]:
            entry["file_name"] = entry["file_name"].replace(png.name, png.with_suffix(".jpg").name)
        path.write_text(json.dumps(data), encoding="utf-8")
    ref = _records(load_dataset(str(base)))
    assert len(ref) == IMAGES
    return base, ref


def _judge(ref: list[tuple]):
    by_id = {r[0]: r for r in ref}

    def judge(folder: Path, out: Path) -> tuple[str, str]:
        ds = load_dataset(str(folder))
        got, written = _records(ds), json.loads((out / "negations.json").read_text(encoding="utf-8"))
        if (written["images"], written["skipped_images"]) != (len(ds), len(ds.skipped)):
            return "failure", f"negations.json reports {written['images']} images, {written['skipped_images']} skipped"
        if not ds.skipped:
            return ("unchanged", "") if got == ref else ("failure", f"nothing skipped, but the records differ: {got!r}")
        if all(by_id.get(r[0]) == r for r in got) and len(got) + len(ds.skipped) == len(ref):
            return "skip", ""
        return "failure", f"{len(ds.skipped)} skipped, but the kept records are not the others intact: {got!r}"

    return judge


def test_coco_mutations_end_in_clean_errors_or_counted_skips(coco, fuzz):
    base, ref = coco
    table = fuzz.run("COCO fuzz", base, lambda folder, out: ["negations", "--data", str(folder), "--out", str(out)],
                     _judge(ref), ("error", "skip", "unchanged"),
                     json_files=lambda folder: sorted((folder / "annotations").glob("*.json")))
    assert all(table[k] for k in fuzz.KINDS), f"a mutation kind never occurred: {table}"
    outcomes = sum((Counter(c) for c in table.values()), Counter())
    assert outcomes["error"] and outcomes["skip"], f"no clean error or no counted skip among the outcomes: {table}"
