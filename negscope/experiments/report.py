"""`negscope report`: rebuild a run folder's report from the typed results its stages wrote."""

from __future__ import annotations

from pathlib import Path

from ..io import read_json
from ..reports.report import StageOutput, build_report
from ..results import ResultError
from .common import MARKER
from .stages import STAGE_LIST


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write `run_dir/report.html` and `run_dir/report.md`; stages without a readable result are marked not run."""
    root = Path(run_dir)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise FileNotFoundError(f"run folder {root} {what}; pass the --out folder of a `negscope run`")
    outputs = []
    for stage in STAGE_LIST:
        folder = stage.folder(root)
        try:
            result, problem = stage.load(root), None
        except (ResultError, ValueError) as err:
            result, problem = None, str(err)
        marker = folder / MARKER
        outputs.append(StageOutput(stage.name, folder, result, read_json(marker) if marker.is_file() else None, problem))
    config = root / "config.json"
    return build_report(root, outputs, read_json(config) if config.is_file() else None)
