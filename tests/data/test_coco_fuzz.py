"""Fuzzing a COCO-format folder: each of 100 seeded random mutations (a cut file, a lost key, a value of the wrong
type, overwritten bytes, a deleted file) must end `negscope negations` in a one-line error (exit 2) or a run whose
numbers are those of the intact folder, less the images it skipped and counted; never a traceback, never exit 0 with
records that differ without a counted skip."""

from __future__ import annotations

import json
import random
import shutil
import warnings
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from negscope import cli
from negscope.data import export_coco, load_dataset, world_dataset

SEED = 20240611
MUTATIONS = 100
KINDS = ("truncate", "delete_key", "wrong_type", "bad_bytes", "delete_file")
WRONG_VALUES = ("x", 7, None, [1], {"a": 1}, True, 1.5)
ERROR_PREFIX = "negscope negations: error: "
IMAGES = 4


def _records(ds) -> list[tuple]:
    return [(r.image_id, list(r.captions), [(o.name, tuple(o.box)) for o in r.objects]) for r in ds]


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> tuple[Path, list[tuple]]:
    """A four-image COCO folder (three PNG images, one JPEG) and its records as loaded intact."""
    base = tmp_path_factory.mktemp("coco_fuzz") / "base"
    export_coco(world_dataset(IMAGES), base)
    png = min((base / "val2017").glob("*.png"))
    jpg = png.with_suffix(".jpg")
    with Image.open(png) as img:
        img.convert("RGB").save(jpg, quality=95)
    png.unlink()
    for path in sorted((base / "annotations").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data["images"]:
            if entry["file_name"] == png.name:
                entry["file_name"] = jpg.name
        path.write_text(json.dumps(data), encoding="utf-8")
    ref = _records(load_dataset(str(base)))
    assert len(ref) == IMAGES
    return base, ref


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _dicts(obj) -> list[dict]:
    """Every dict in a parsed JSON value, the value itself included, depth first."""
    found = [obj] if isinstance(obj, dict) else []
    children = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
    for child in children:
        found += _dicts(child)
    return found


def _edit_json(rng: random.Random, folder: Path, wrong_type: bool) -> str:
    path = rng.choice(sorted((folder / "annotations").glob("*.json")))
    data = json.loads(path.read_text(encoding="utf-8"))
    target = rng.choice([d for d in _dicts(data) if d])
    key = rng.choice(sorted(target))
    where = f"{path.name}: {key!r} of {json.dumps(target)[:80]}"
    if wrong_type:
        value = rng.choice([v for v in WRONG_VALUES if type(v) is not type(target[key])])
        target[key] = value
        where += f" -> {value!r}"
    else:
        del target[key]
    path.write_text(json.dumps(data), encoding="utf-8")
    return where


def mutate(rng: random.Random, folder: Path, kind: str) -> str:
    """Apply one mutation of `kind` to `folder`; return what it did."""
    if kind in ("delete_key", "wrong_type"):
        return f"{kind} {_edit_json(rng, folder, kind == 'wrong_type')}"
    path = rng.choice(_files(folder))
    rel = path.relative_to(folder)
    data = path.read_bytes()
    if kind == "truncate":
        cut = rng.randrange(len(data))
        path.write_bytes(data[:cut])
        return f"truncate {rel} at {cut} of {len(data)}"
    if kind == "bad_bytes":
        n = min(rng.randint(1, 32), len(data))
        at = rng.randrange(len(data) - n + 1)
        noise = bytes(rng.randrange(256) for _ in range(n))
        path.write_bytes(data[:at] + noise + data[at + n:])
        return f"bad_bytes {rel} [{at}:{at + n}] = {noise.hex()}"
    assert kind == "delete_file"
    path.unlink()
    return f"delete_file {rel}"


def classify(rc, out: str, err: str, folder: Path, run_dir: Path, ref: list[tuple]) -> tuple[str, str]:
    """('error' | 'skip' | 'unchanged', '') for a clean outcome, else ('failure', why)."""
    if "Traceback" in out or "Traceback" in err:
        return "failure", f"rc {rc} with a traceback printed: {err.strip().splitlines()[-1:]}"
    if rc == 2:
        lines = err.strip("\n").splitlines()
        if len(lines) == 1 and lines[0].startswith(ERROR_PREFIX):
            return "error", ""
        return "failure", f"rc 2 but stderr is not one error line: {err!r}"
    if rc != 0:
        return "failure", f"rc {rc!r}; stderr {err!r}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_dataset(str(folder))
    except Exception as e:  # noqa: BLE001 - an exit 0 the loader then refuses is itself the failure
        return "failure", f"rc 0, but load_dataset then raises {type(e).__name__}: {e}"
    got, by_id = _records(ds), {r[0]: r for r in ref}
    try:
        written = json.loads((run_dir / "negations.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return "failure", f"rc 0, but negations.json cannot be read back ({e})"
    if (written["images"], written["skipped_images"]) != (len(ds), len(ds.skipped)):
        return "failure", (f"rc 0, negations.json reports {written['images']} images and {written['skipped_images']} "
                           f"skipped, the loader {len(ds)} and {len(ds.skipped)}")
    if not ds.skipped:
        if got == ref:
            return "unchanged", ""
        return "failure", f"rc 0 with nothing skipped, but the records differ from the reference: {got!r}"
    ids = [r[0] for r in got]
    if (len(set(ids)) == len(ids) and all(r[0] in by_id and r == by_id[r[0]] for r in got)
            and len(got) + len(ds.skipped) == len(ref)):
        return "skip", ""
    return "failure", (f"rc 0 with {len(ds.skipped)} skipped ({ds.skipped}), but the kept records {got!r} are not "
                       "the reference's records less the skipped ones")


def summary(rows: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Counts of outcomes per mutation kind: {kind: {outcome: n}}."""
    counts: dict[str, Counter] = {k: Counter() for k in KINDS}
    for kind, outcome in rows:
        counts[kind][outcome] += 1
    return {k: dict(c) for k, c in counts.items()}


def format_table(table: dict[str, dict[str, int]], outcomes: tuple[str, ...]) -> str:
    lines = [f"{'kind':<12}" + "".join(f"{o:>11}" for o in outcomes)]
    lines += [f"{k:<12}" + "".join(f"{c.get(o, 0):>11}" for o in outcomes) for k, c in table.items()]
    return "\n".join(lines)


def test_coco_mutations_end_in_clean_errors_or_counted_skips(coco, tmp_path, capsys):
    base, ref = coco
    rng = random.Random(SEED)
    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    for i in range(MUTATIONS):
        folder, run_dir = tmp_path / f"m{i}", tmp_path / f"out{i}"
        shutil.copytree(base, folder)
        kind = rng.choice(KINDS)
        what = mutate(rng, folder, kind)
        capsys.readouterr()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rc = cli.main(["negations", "--data", str(folder), "--out", str(run_dir)])
        except (Exception, SystemExit) as err:  # noqa: BLE001 - anything escaping main is a failure to report
            lines = str(err).strip().splitlines()
            outcome, why = "failure", f"main raised {type(err).__name__}: {lines[-1] if lines else ''}"
        else:
            out, err_text = capsys.readouterr()
            outcome, why = classify(rc, out, err_text, folder, run_dir, ref)
        rows.append((kind, outcome))
        if outcome == "failure":
            failures.append(f"#{i} {what}\n    {why}")
        shutil.rmtree(folder, ignore_errors=True)
    table = summary(rows)
    with capsys.disabled():
        print(f"\nCOCO fuzz, seed {SEED}, {MUTATIONS} mutations (kind x outcome):")
        print(format_table(table, ("error", "skip", "unchanged", "failure")))
    assert not failures, f"{len(failures)} of {MUTATIONS} mutations did not end cleanly:\n" + "\n".join(failures)
    assert all(table[k] for k in KINDS), f"a mutation kind never occurred: {table}"
    outcomes = Counter(o for _, o in rows)
    assert outcomes["error"] and outcomes["skip"], f"no clean error or no counted skip among the outcomes: {table}"
