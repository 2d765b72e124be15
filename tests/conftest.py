"""Shared fixtures: the tiny random model, a small world dataset, a written selection and the fuzzing harness."""

from __future__ import annotations

import json
import random
import shutil
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch

from negscope.data import world_dataset
from negscope.models import ClipBundle, tiny_bundle
from negscope.results import EvidenceSummary, SelectionResult, Stability

# Tiny models gain nothing from intra-op threads, and on a shared machine spinning threads cost a lot.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny() -> ClipBundle:
    """A tiny random CLIP shared by the session's tests (do not train it in place)."""
    return tiny_bundle()


@pytest.fixture(scope="session")
def small_world():
    """Eight held-out world scenes."""
    return world_dataset(8)


def _write_selection(folder: Path, blocks: list[int], combined: list[float] = ()) -> Path:
    evidence = EvidenceSummary([], [], {}, {}, list(combined), 1.0, Stability(0, 0, []))
    return SelectionResult(blocks, [], evidence, "given by the test", 0.5, 0).save(folder)


@pytest.fixture
def write_selection():
    """`write_selection(folder, blocks, combined=())`: a selection result choosing `blocks`, as the stage writes it."""
    return _write_selection


class Fuzz:
    """Seeded random mutations of a folder, each fed to one negscope command, tallied by kind and outcome.

    A mutation cuts a file, deletes a key or gives a value a wrong type in a JSON file, overwrites a run of bytes, or
    deletes a file. An outcome is `error` (exit 2 with one error line), a clean outcome the test's `judge` names after
    exit 0, or `failure` (a traceback, another exit code, or whatever `judge` rejects)."""

    KINDS = ("truncate", "delete_key", "wrong_type", "bad_bytes", "delete_file")
    WRONG_VALUES = ("x", 7, None, [1], {"a": 1}, True, 1.5)

    def __init__(self, tmp_path: Path, capsys) -> None:
        self.tmp_path, self.capsys = tmp_path, capsys

    def _edit_json(self, rng, path: Path, wrong_type: bool) -> str:
        data = json.loads(path.read_text(encoding="utf-8"))
        target = rng.choice([d for d in _dicts(data) if d])
        key = rng.choice(sorted(target))
        where = f"{path.name}: {key!r} of {json.dumps(target)[:80]}"
        if wrong_type:
            target[key] = rng.choice([v for v in self.WRONG_VALUES if type(v) is not type(target[key])])
            where += f" -> {target[key]!r}"
        else:
            del target[key]
        path.write_text(json.dumps(data), encoding="utf-8")
        return where

    def mutate(self, rng, folder: Path, kind: str, json_files: list[Path], run_of: dict[str, bytes]) -> str:
        """Apply one mutation of `kind` to `folder` (JSON edits go to one of `json_files`; a file named in `run_of`
        gets a run of that byte instead of random bytes, aligned to 4); return what it did."""
        if kind in ("delete_key", "wrong_type"):
            return f"{kind} {self._edit_json(rng, rng.choice(json_files), kind == 'wrong_type')}"
        path = rng.choice(sorted(p for p in folder.rglob("*") if p.is_file()))
        data = path.read_bytes()
        if kind == "truncate":
            cut = rng.randrange(len(data))
            path.write_bytes(data[:cut])
            return f"truncate {path.name} at {cut} of {len(data)}"
        if kind == "bad_bytes":
            byte = run_of.get(path.name)
            n = min(rng.randint(4, 64) if byte else rng.randint(1, 32), len(data))
            at = rng.randrange(len(data) - n + 1)
            at -= at % 4 if byte else 0
            noise = byte * n if byte else bytes(rng.randrange(256) for _ in range(n))
            path.write_bytes(data[:at] + noise + data[at + n:])
            return f"bad_bytes {path.name} [{at}:{at + n}] = {noise.hex()}"
        path.unlink()
        return f"delete_file {path.name}"

    def run(self, title: str, base: Path, argv, judge, outcomes: tuple[str, ...], mutations: int = 100,
            seed: int = 20240611, json_files=lambda folder: [], run_of: dict[str, bytes] | None = None):
        """Mutate copies of `base` and run `negscope argv(folder, out)` on each; `judge(folder, out)` names a clean
        outcome after exit 0, or returns ('failure', why). Prints the tally and fails on any failure; returns it."""
        from negscope import cli

        rng, rows, failures = random.Random(seed), [], []
        for i in range(mutations):
            folder, out = self.tmp_path / f"m{i}", self.tmp_path / f"out{i}"
            shutil.copytree(base, folder)
            kind = rng.choice(self.KINDS)
            what = self.mutate(rng, folder, kind, json_files(folder), run_of or {})
            self.capsys.readouterr()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rc = cli.main(argv(folder, out))
                    stdout, err = self.capsys.readouterr()
                    outcome, why = self._outcome(rc, stdout, err, argv(folder, out)[0]) or judge(folder, out)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - anything escaping is a failure to report
                outcome, why = "failure", f"{type(exc).__name__} escaped: {str(exc).strip()[-300:]}"
            rows.append((kind, outcome))
            if outcome == "failure":
                failures.append(f"#{i} {what}\n    {why}")
            shutil.rmtree(folder, ignore_errors=True)
        table = {k: dict(Counter(o for kk, o in rows if kk == k)) for k in self.KINDS}
        with self.capsys.disabled():
            print(f"\n{title}, seed {seed}, {mutations} mutations (kind x outcome):")
            print(f"{'kind':<12}" + "".join(f"{o:>11}" for o in (*outcomes, "failure")))
            for k, c in table.items():
                print(f"{k:<12}" + "".join(f"{c.get(o, 0):>11}" for o in (*outcomes, "failure")))
        assert not failures, f"{len(failures)} of {mutations} mutations did not end cleanly:\n" + "\n".join(failures)
        return table

    @staticmethod
    def _outcome(rc, stdout: str, err: str, command: str) -> tuple[str, str] | None:
        """The outcome, or None when the command exited 0 cleanly and the test's judge decides."""
        if "Traceback" in stdout + err:
            return "failure", f"rc {rc} with a traceback printed: {err.strip().splitlines()[-1:]}"
        if rc == 2:
            lines = err.strip("\n").splitlines()
            ok = len(lines) == 1 and lines[0].startswith(f"negscope {command}: error: ")
            return ("error", "") if ok else ("failure", f"rc 2 but stderr is not one error line: {err!r}")
        return None if rc == 0 else ("failure", f"rc {rc!r}; stderr {err!r}")


def _dicts(obj) -> list[dict]:
    """Every dict in a parsed JSON value, the value itself included, depth first."""
    found = [obj] if isinstance(obj, dict) else []
    for child in obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ():
        found += _dicts(child)
    return found


@pytest.fixture
def fuzz(tmp_path, capsys) -> Fuzz:
    """The fuzzing harness (`Fuzz`) working in this test's temporary folder."""
    return Fuzz(tmp_path, capsys)


def _scene_table(folder: Path, images: int, captions: int = 1) -> Path:
    """A CSV table of `images` world scenes saved as PNGs, each with `captions` captions and their presence negations."""
    import csv

    from PIL import Image

    from negscope.data.world import scene

    for i in range(images):
        Image.fromarray(scene(i).pixels).save(folder / f"{i}.png")
    path = folder / "t.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["image", "caption", "presence"],
                                  *([f"{i}.png", f"a picture {i}{k}", f"no picture {i}{k}"] for i in range(images)
                                    for k in "abcdefgh"[:captions])])
    return path


@pytest.fixture
def scene_table():
    """`_scene_table`: writes a CSV data table of world scenes into a folder."""
    return _scene_table
