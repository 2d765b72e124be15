"""`negscope select`: rank text blocks from probe, attribution and patching evidence; write the freeze plan."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..reports.attribution_figures import selection_plot
from ..results import SelectionResult
from ..selection import gather_evidence, rank_blocks
from .config import SelectionConfig
from .stages import STAGE


def run_selection(
    cfg: SelectionConfig, out: str | Path, sources: str | Path | Mapping[str, str | Path], seed: int = 0
) -> SelectionResult:
    """Write `out`/selection.json and selection.png from the evidence in `sources` (one folder, or a folder per stage)."""
    out = Path(out)
    folders = {k: Path(v) for k, v in sources.items()} if isinstance(sources, Mapping) else \
        {k: Path(sources) for k in STAGE["selection"].needs}
    paths = {k: STAGE[k].result.path(f) for k, f in folders.items()}
    found = {k: STAGE[k].result.load(p) for k, p in paths.items() if p.is_file()}
    evidence = gather_evidence(**found, sources={k: str(paths[k]) for k in found})
    selection = rank_blocks(evidence, cfg.coverage, cfg.rule, cfg.resamples, seed)
    selection.save(out)
    selection_plot(selection, out / "selection.png",
                   f"block selection: text blocks {selection.blocks} shaded ({cfg.rule}, coverage {cfg.coverage:g})")
    return selection


def format_summary(result: SelectionResult) -> str:
    """The chosen blocks, the ranking and the kinds of evidence behind them."""
    return (f"selected text blocks {result.blocks} by {result.rule}\n"
            f"ranking: {[r.block for r in result.ranking]}; evidence: {result.evidence.kinds}")
