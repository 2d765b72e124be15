"""Data files that bring their own text: a CSV or JSONL table, one row per (image, caption), in one of three layouts.

- **negations** (LLM-written negations, NegationCLIP or CC-Neg style): `image`, `caption`, and at least one of
  `presence` (the caption negating an object the image holds, so false; alias `negated_caption`) and `absence`
  (a true caption negating an object the image lacks; alias `absence_caption`). An optional `absence_false` is
  the absence caption affirming that object; without it the absence pair cannot be scored, only trained on.
  A column the table has must be filled in on every row.
- **NegBench MCQ**: `image_path`, `correct_answer` (the index of the true option), `caption_0` ... `caption_3` and
  `correct_answer_template` (affirmation, negation or hybrid).
- **NegBench negated retrieval**: `filepath` and `captions` (a list of the image's captions, written as a Python or
  JSON list in a CSV cell).

Rows naming the same image make one record. Image paths are taken relative to the table's folder. A row whose
image is missing or unreadable is skipped and counted in `Dataset.skipped`, or is an error when `strict`.
"""

from __future__ import annotations

import ast
import csv
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .coco import usable_images
from .records import DataError, Dataset, GivenNegation, ImageRecord, MCQItem

if TYPE_CHECKING:
    from .splits import Part

SUFFIXES = (".csv", ".jsonl")
ALIASES = {"negated_caption": "presence", "absence_caption": "absence"}
MCQ_OPTIONS = 4
LAYOUTS = {
    "negations": ("image", "caption"),
    "mcq": ("image_path", "correct_answer", *(f"caption_{i}" for i in range(MCQ_OPTIONS)), "correct_answer_template"),
    "retrieval": ("filepath", "captions"),
}
NEGATIONS = ("presence", "absence", "absence_false")


def is_table(spec: str) -> bool:
    """Whether `spec` names a CSV or JSONL table rather than a folder or the world."""
    return Path(spec).suffix.lower() in SUFFIXES


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV with a header, or of a JSONL file with one object per line."""
    with open(path, newline="", encoding="utf-8") as fh:
        if path.suffix.lower() == ".csv":
            yield from enumerate(csv.DictReader(fh), start=2)
            return
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as err:
                raise DataError(f"{path} line {line} is not a JSON object ({err}); fix or delete the line") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {line} holds a {type(row).__name__}, not an object with named fields")
            yield line, row


def _layout(path: Path, columns: set[str]) -> str:
    found = [name for name, need in LAYOUTS.items() if set(need) <= columns]
    if found and (found[0] != "negations" or columns & {"presence", "absence"}):
        return found[0]
    wanted = "; ".join(f"{name}: {', '.join(need)}" for name, need in LAYOUTS.items())
    raise DataError(
        f"{path} has columns {', '.join(sorted(columns)) or '(none)'}, which match no layout; it needs the columns of "
        f"one of {wanted} (a negations table also needs presence and/or absence)"
    )


def _text(path: Path, line: int, row: dict[str, Any], column: str) -> str:
    text = str(row.get(column) or "").strip()
    if not text:
        raise DataError(f"{path} line {line} has an empty {column!r}; fill it in or delete the row")
    return text


def _captions(path: Path, line: int, cell: Any) -> list[str]:
    if isinstance(cell, str):
        try:
            cell = ast.literal_eval(cell)
        except (ValueError, SyntaxError):
            raise DataError(f"{path} line {line}: 'captions' must be a list such as ['a dog', 'two dogs'], "
                            f"not {cell[:60]!r}") from None
    if not isinstance(cell, list) or not cell or not all(isinstance(c, str) and c.strip() for c in cell):
        raise DataError(f"{path} line {line}: 'captions' must be a non-empty list of non-empty captions")
    return [c.strip() for c in cell]


def _mcq(path: Path, line: int, row: dict[str, Any]) -> MCQItem:
    options = [_text(path, line, row, f"caption_{i}") for i in range(MCQ_OPTIONS)]
    try:
        answer = int(row["correct_answer"])
    except (TypeError, ValueError):
        answer = -1
    if not 0 <= answer < MCQ_OPTIONS:
        raise DataError(f"{path} line {line}: correct_answer is {row['correct_answer']!r}; it must be 0 to {MCQ_OPTIONS - 1}")
    types = [""] * MCQ_OPTIONS
    types[answer] = _text(path, line, row, "correct_answer_template")
    return MCQItem(options, types, answer)


def load_table(spec: str | Path, strict: bool = False, part: Part | None = None) -> Dataset:
    """A CSV or JSONL table in one of the three layouts (see the module docstring) as a `Dataset`: the images of
    `part` of it (counted in the order the table first names them; default: all)."""
    path = Path(spec)
    if not path.is_file():
        raise DataError(f"data table {path} does not exist; check the path given as --data")
    rows = [(line, {ALIASES.get(k, k): v for k, v in row.items()}) for line, row in _rows(path)]
    if not rows:
        raise DataError(f"{path} holds no rows; add at least one image")
    layout = _layout(path, set().union(*(row.keys() for _, row in rows)))
    image_column = LAYOUTS[layout][0]
    kinds = [k for k in NEGATIONS if any(k in row for _, row in rows)]
    named = [(line, row, _text(path, line, row, image_column)) for line, row in rows]
    first: dict[str, int] = {}
    for line, _, name in named:
        first.setdefault(name, line)
    skipped: list[str] = []
    names = list(first)
    mine = [i for i in range(len(names)) if part is None or part.holds(i)]
    found = usable_images([path.parent / names[i] for i in mine], [f" (line {first[names[i]]})" for i in mine], strict,
                          skipped, f"restore the file (paths are relative to {path.parent})")
    keep = {mine[k] for k in found}
    records = {n: ImageRecord(i, [], [], path=path.parent / n) if i in keep else None for i, n in enumerate(names)}
    for line, row, name in named:
        rec = records[name]
        if rec is None:
            continue
        if layout == "retrieval":
            rec.captions += _captions(path, line, row["captions"])
        elif layout == "mcq":
            if rec.mcq is not None:
                raise DataError(f"{path} line {line} asks a second question about {name}; give each image one row")
            rec.mcq = _mcq(path, line, row)
            rec.captions.append(rec.mcq.options[rec.mcq.answer])
        else:
            caption = _text(path, line, row, "caption")
            texts = {k: _text(path, line, row, k) for k in kinds}
            rec.captions.append(caption)
            rec.given.append(GivenNegation(caption, **texts))
    kept = [r for r in records.values() if r is not None]
    if skipped:
        warnings.warn(f"skipped {len(skipped)} missing or unreadable image(s) of {path}, first: {skipped[0]}", stacklevel=2)
    if not kept:
        within = f" in its {part.role} split (give the table more images)" if part else ""
        raise DataError(f"{path} names no readable image{within}; image paths are relative to {path.parent}")
    return Dataset(path.name, kept, [], skipped, part.describe() if part else "")
