"""`negscope models`: the named backbones, and what a given `--model` spec loads."""

from __future__ import annotations

from ..models import load_bundle
from ..models.backbones import listing

NOTE = (
    "`--model NAME` loads the published weights from where they live (a Hugging Face id or an open_clip tag; "
    "downloads need a connection). `--model NAME:random` builds the published architecture with random "
    "weights, offline; Hugging Face builds then use negscope's world tokenizer, open_clip builds open_clip's own. "
    "open_clip models need the optional extra: pip install 'negscope[openclip]'."
)


def format_models() -> str:
    """The named backbones as a Markdown table, with how to name them."""
    rows = listing()
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + NOTE


def describe_model(spec: str) -> str:
    """Load `spec` and say what it is: backend, text depth and width, context, image size and sites."""
    bundle = load_bundle(spec)
    facts = bundle.describe()
    sites = bundle.sites
    lines = [f"{spec}:"] + [f"  {k}: {v}" for k, v in facts.items()]
    lines.append(f"  sites: {sites[0].name} ... {sites[-1].name} ({len(sites)})")
    return "\n".join(lines)
