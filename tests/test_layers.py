"""The package's layering, read from the source: imports only go down, and stage runners never import each other.

cli -> experiments -> (hooks, probes, attribution, selection, finetune, steering, evaluation, reports) -> (io, models, data).
Every `negscope` import counts: absolute or relative, at module level or inside a function.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "negscope"
LEVELS = {
    **dict.fromkeys(("negscope.io", "negscope.progress", "negscope.settings", "negscope.stats", "negscope.fingerprint", "negscope.results", "negscope.models",
                     "negscope.data"), 0),
    **dict.fromkeys(
        ("negscope.hooks", "negscope.probes", "negscope.attribution", "negscope.selection", "negscope.finetune", "negscope.steering",
         "negscope.evaluation", "negscope.reports"),
        1,
    ),
    "negscope.experiments": 2,
    "negscope.cli": 3,
    "negscope.__main__": 3,  # the `python -m negscope` entry point, beside the CLI it calls
}
SHARED_RUNNER_MODULES = ("negscope.experiments.config", "negscope.experiments.common", "negscope.experiments.analysis",
                         "negscope.experiments.stages", "negscope.experiments.parallel")
ORCHESTRATORS = ("negscope.experiments.run", "negscope.experiments.stages")


def module_name(path: Path) -> str:
    """The dotted name of the module at `path`."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def negscope_imports(path: Path) -> set[str]:
    """Every negscope module or name `path` imports, as an absolute dotted name."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "negscope"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != "negscope":
                continue
            found |= {f"{target}.{a.name}" for a in node.names} if node.module is None else {target}
    return found


def level(name: str) -> int:
    """The layer of the module `name` (its `negscope.<part>` prefix)."""
    key = ".".join(name.split(".")[:2])
    if key not in LEVELS:
        pytest.fail(f"{name} belongs to no layer; add negscope.{name.split('.')[1]} to LEVELS in tests/test_layers.py")
    return LEVELS[key]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_the_walk_sees_relative_and_function_level_imports():
    assert "negscope.experiments.config" in negscope_imports(PACKAGE / "experiments" / "stages.py")
    assert "negscope.experiments.similarity" in negscope_imports(PACKAGE / "experiments" / "stages.py")  # inside a function
    assert "negscope.cli" in negscope_imports(PACKAGE / "__main__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_never_go_up_a_layer(path):
    name = module_name(path)
    upward = sorted(t for t in negscope_imports(path) if level(t) > level(name))
    assert not upward, f"{name} (layer {level(name)}) imports {upward} from a higher layer; move the shared code down"


@pytest.mark.parametrize("path", sorted((PACKAGE / "experiments").glob("*.py")), ids=lambda p: module_name(p))
def test_runners_never_import_each_other(path):
    name = module_name(path)
    if name in ORCHESTRATORS:
        return
    runners = sorted(
        t for t in negscope_imports(path)
        if t.startswith("negscope.experiments.") and t != name and not t.startswith(SHARED_RUNNER_MODULES)
    )
    assert not runners, f"{name} imports the runners {runners}; move what they share into the library below"


MODEL_DETAILS = ("text_model", "vision_model", "text_projection", "get_text_features", "get_image_features",
                 "text_config", "vision_config", "resblocks", "positional_embedding", "encode_text(", "ln_final",
                 "CLIPModel", "SiglipModel", "import open_clip", "from transformers", "import transformers")


def test_no_model_attribute_paths_outside_models():
    """Only `models/` knows how a backend's model is built; everything else speaks to `ClipBundle`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "models"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            found += [f"{path.relative_to(PACKAGE)}:{n}: {d}" for d in MODEL_DETAILS if d in code
                      and not (d == "encode_text(" and "bundle.encode_text(" in code)]
    assert not found, found
