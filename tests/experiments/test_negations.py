"""`negscope negations` on a COCO-style folder of hand-written captions, and its report section."""

import csv
import json
from pathlib import Path

from negscope.cli import main
from negscope.data import Dataset, ImageRecord, ObjectAnn, export_coco
from negscope.data.overview import NOT_MENTIONED
from negscope.data.world import scene
from negscope.experiments.report import write_report
from negscope.io import write_json
from negscope.results import NegationsResult

CASES = json.loads((Path(__file__).parents[1] / "data" / "negation_cases.json").read_text(encoding="utf-8"))


def _coco_style(folder: Path, cases: list[dict]) -> Path:
    records = [ImageRecord(i + 1, [c["caption"]], [ObjectAnn(c["name"], (0.0, 0.0, 8.0, 8.0))], pixels=scene(i).pixels)
               for i, c in enumerate(cases)]
    return export_coco(Dataset("cases", records, sorted({c["name"] for c in cases})), folder)


def test_negations_cli_counts_the_captions_that_mention_no_object(tmp_path, capsys):
    cases = CASES[:60]
    folder = _coco_style(tmp_path / "coco", cases)
    assert main(["negations", "--data", str(folder), "--out", str(tmp_path / "out"), "--samples", "7"]) == 0
    res = NegationsResult.load(tmp_path / "out")
    skips = sum(c["presence"] == "skip" for c in cases)
    assert skips > 0 and res.skipped_captions == {NOT_MENTIONED: skips} and res.captions == len(cases)
    assert len(res.samples) == 7 and all(s.presence and s.object for s in res.samples)
    with open(tmp_path / "out" / "negations.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # the stages read exactly what the hand-written cases expect
    assert [row["presence"] or "skip" for row in rows] == [c["presence"] for c in cases]
    assert f"| {NOT_MENTIONED} | {skips} (" in (tmp_path / "out" / "negations.md").read_text()
    assert "wrote" in capsys.readouterr().out


def test_the_report_shows_the_sampled_negations(tmp_path):
    root = tmp_path / "run"
    write_json(root / "config.json", {"model": "world", "data": "world", "seed": 0, "stages": ["negations"]})
    assert main(["negations", "--data", "world[:6]", "--out", str(root / "negations")]) == 0
    md = write_report(root)[1].read_text()
    assert "## The negated captions every stage reads" in md and "Every caption gives a presence negation." in md
    res = NegationsResult.load(root / "negations")
    assert len(res.samples) == 10 and all(f"| {s.caption} | {s.object} | {s.presence} |" in md for s in res.samples)
