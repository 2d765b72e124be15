"""The report's document model: blocks that render to Markdown and to self-contained HTML, cell formats, and what
the report reads of each stage."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Doc:
    """An ordered list of report blocks that renders to both Markdown and HTML."""

    root: Path
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    used: set[Path] = field(default_factory=set)
    stages: dict[str, StageOutput] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> None:
        """Add a section heading."""
        self.blocks.append(("heading", (level, text)))

    def para(self, text: str) -> None:
        """Add a paragraph; `code` spans are kept in both formats."""
        self.blocks.append(("para", text))

    def bullets(self, items: list[str]) -> None:
        """Add a bulleted list."""
        self.blocks.append(("bullets", items))

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        """Add a table; floats are shown with three decimals."""
        self.blocks.append(("table", (header, [[fmt(v) for v in r] for r in rows])))

    def figure(self, path: Path, caption: str) -> None:
        """Add an existing PNG with its caption."""
        self.used.add(path)
        self.blocks.append(("figure", (path, caption)))

    def embed(self, path: Path, caption: str) -> None:
        """Add an existing HTML page: inlined in the HTML report, linked from the Markdown one."""
        self.blocks.append(("embed", (path, caption)))

    def figures(self, folder: Path, pattern: str, caption: Callable[[Path], str]) -> None:
        """Add every not-yet-shown PNG in `folder` matching `pattern`, in name order."""
        for path in sorted(folder.glob(pattern)):
            if path not in self.used:
                self.figure(path, caption(path))

    def markdown(self) -> str:
        """The document as Markdown, figures linked by their path relative to the run folder."""
        out = []
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"{'#' * value[0]} {value[1]}")
            elif kind == "para":
                out.append(value)
            elif kind == "bullets":
                out.append("\n".join(f"- {item}" for item in value))
            elif kind == "table":
                header, rows = value
                lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                lines += ["| " + " | ".join(r) + " |" for r in rows]
                out.append("\n".join(lines))
            elif kind == "embed":
                path, caption = value
                out.append(f"[{caption}]({path.relative_to(self.root).as_posix()})")
            else:
                path, caption = value
                out.append(f"![{caption}]({path.relative_to(self.root).as_posix()})\n\n*{caption}*")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        """The document as one self-contained HTML page, figures embedded as base64 PNG."""
        out = []
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"<h{value[0]}>{_inline(value[1])}</h{value[0]}>")
            elif kind == "para":
                out.append(f"<p>{_inline(value)}</p>")
            elif kind == "bullets":
                out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in value) + "</ul>")
            elif kind == "table":
                header, rows = value
                head = "".join(f"<th>{_inline(h)}</th>" for h in header)
                body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows)
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif kind == "embed":
                path, caption = value
                page = html.escape(path.read_text(encoding="utf-8"))
                out.append(f'<figure><iframe srcdoc="{page}" style="width:100%;height:32rem;border:1px solid #bbb"></iframe>'
                           f"<figcaption>{_inline(caption)}</figcaption></figure>")
            else:
                path, caption = value
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                out.append(
                    f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{_inline(caption)}</figcaption></figure>"
                )
        return (
            f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
        )


_CSS = (
    "body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;"
    "text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}"
    "figure{margin:1.5rem 0}img{max-width:100%}figcaption{font-size:.9rem;color:#444}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)


def fmt(value: Any) -> str:
    """A table cell: floats with three decimals, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.3f}"
    return str(value)


def over_seeds(mean: float, std: float, change: float) -> str:
    """A cell of a study over seeds: mean ± std, and the change against the model before in brackets."""
    return f"{mean:.3f} ± {std:.3f} ({change:+.3f})"


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** spans as HTML."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def ci_cell(x: Any) -> str:
    """A 95% interval cell from anything with `ci_low` and `ci_high`."""
    return f"{x.ci_low:.3f}–{x.ci_high:.3f}"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def with_ci(value: float | None, ci: list[float] | None) -> str:
    """A value with its 95% interval in brackets when there is one: `0.592 [0.55, 0.63]`."""
    if value is None:
        return fmt(None)
    return f"{value:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.3f}"


def mean_of(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class StageOutput:
    """What the report reads of one stage: its folder, its typed result (None when absent) and its run marker."""

    name: str
    folder: Path
    result: Any | None
    marker: dict | None = None
    problem: str | None = None


def open_section(doc: Doc, title: str, out: StageOutput) -> Any | None:
    """Open a report section: its heading, then the stage's result, or a line saying why there is none."""
    doc.heading(title)
    if out.result is None:
        why = out.problem or f"`{out.folder.relative_to(doc.root).as_posix()}` holds no result"
        doc.para(f"Not run: {why}. Run `negscope run` with the `{out.name}` stage to fill this section.")
    return out.result


def caption_from_name(path: Path) -> str:
    return path.stem.replace("_", " ")


