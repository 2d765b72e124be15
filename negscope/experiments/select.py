"""`negscope select`: rank text blocks from every kind of evidence (`results.evidence.KINDS`); write the freeze plan."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..reports.attribution_figures import selection_plot
from ..results import AttributionResult, ErasureResult, PatchingResult, ProbesResult, Result, SelectionResult
from ..results.evidence import KINDS
from ..selection import gather_evidence, rank_blocks
from .config import SelectionConfig

# the result type of each kind of evidence, in the order of `KINDS` (tests check that they agree)
EVIDENCE_RESULTS: dict[str, type[Result]] = {
    cls.kind: cls for cls in (ProbesResult, AttributionResult, PatchingResult, ErasureResult)}


def run_selection(cfg: SelectionConfig, out: str | Path, sources: str | Path | Mapping[str, str | Path]) -> SelectionResult:
    """Write `out`/selection.json and selection.png from the evidence in `sources` (one folder, or a folder per kind)."""
    out = Path(out)
    folders = {k: Path(v) for k, v in sources.items()} if isinstance(sources, Mapping) else dict.fromkeys(KINDS, Path(sources))
    paths = {k: cls.path(folders[k]) for k, cls in EVIDENCE_RESULTS.items() if k in folders}
    found = {k: EVIDENCE_RESULTS[k].load(p) for k, p in paths.items() if p.is_file()}
    evidence = gather_evidence(**found, sources={k: str(paths[k]) for k in found})
    selection = rank_blocks(evidence, cfg.coverage, cfg.rule, cfg.size)
    selection.save(out)
    selection_plot(selection, out / "selection.png",
                   f"block selection: text blocks {selection.blocks} shaded ({cfg.rule}, coverage {cfg.coverage:g})")
    return selection


def format_summary(result: SelectionResult) -> str:
    """The chosen blocks, the ranking, the kinds that decided the plan and those within noise."""
    decided = ", ".join(result.evidence.kinds) or "none (no kind is beyond noise; see the rule)"
    return (f"selected text blocks {result.blocks} by {result.rule}\n"
            f"ranking: {[r.block for r in result.ranking]}; decided by: {decided}; within noise: "
            f"{', '.join(result.evidence.within_noise) or 'none'}")
