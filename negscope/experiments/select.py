"""`negscope select`: rank text blocks from probe, attribution and patching evidence; write the freeze plan."""

from __future__ import annotations

from pathlib import Path

from ..io import write_json
from ..reports.attribution_figures import selection_plot
from ..selection.rank import load_evidence, rank_blocks


def run_selection(
    probes: str | Path | None,
    attribution: str | Path | None,
    patching: str | Path | None,
    out: str | Path,
    coverage: float = 0.5,
    rule: str = "front",
    seed: int = 0,
    resamples: int = 200,
) -> dict:
    """Write `out`/selection.json (and selection.png) from the evidence files found in the given folders."""
    out = Path(out)
    selection = rank_blocks(load_evidence(probes, attribution, patching), coverage, rule, resamples, seed)
    write_json(out / "selection.json", selection)
    selection_plot(selection, out / "selection.png", f"block selection: text blocks {selection['blocks']} shaded ({rule}, coverage {coverage:g})")
    return selection
