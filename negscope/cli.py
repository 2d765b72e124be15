"""`negscope <stage> ...`: parses arguments and calls `negscope.experiments`.

The flags of each stage are generated from its config dataclass (`experiments.config`), so a setting is
declared once. Only the configs are imported to build the parser; a stage's code is imported when it runs,
so `negscope --help` answers without loading torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterable
from contextlib import nullcontext

from .experiments import config as C
from .io import out_folder
from .settings import add_arguments, from_args

ERRORS = (ValueError, IndexError, KeyError, OSError, FloatingPointError)


def _common(args: argparse.Namespace) -> C.Common:
    if isinstance(args.model, list):
        return from_args(C.Common, args, model=args.model[0])
    return from_args(C.Common, args)


def _runs(module: str, runner: str, config: type, wrote: str, several_models: bool = False) -> Callable:
    """The handler of a stage whose runner takes (common, config, out): run it, print its summary and what it wrote."""

    def handler(args: argparse.Namespace) -> None:
        stage = importlib.import_module(f"negscope.experiments.{module}")
        models = {"models": args.model} if several_models else {}
        result = getattr(stage, runner)(_common(args), from_args(config, args), args.out, **models)
        print(stage.format_summary(result))
        print(f"wrote {args.out}/{wrote}")

    return handler


def _select(args: argparse.Namespace) -> None:
    from .experiments.select import format_summary, run_selection

    result = run_selection(from_args(C.SelectionConfig, args), args.out, sources=args.src)
    print(format_summary(result))
    print(f"wrote {args.out}/selection.json and selection.png")


def _models(args: argparse.Namespace) -> None:
    from .experiments.models import describe_model, format_models

    print(describe_model(args.load) if args.load else format_models())


def _finetune(args: argparse.Namespace) -> None:
    from .experiments.finetune import run_finetune

    cfg = from_args(C.FinetuneConfig, args)
    result = run_finetune(_common(args), cfg, args.out, selection=args.selection, resume=args.resume)
    print(f"fine-tuned text blocks {result.blocks} for {cfg.steps} steps in {result.train_seconds:.0f} s; "
          f"final loss {result.final_loss:.3f}; wrote {args.out} and {args.out}/train.json")


def _localise(args: argparse.Namespace) -> None:
    from .experiments.localise import format_summary, run_localisation

    result = run_localisation(_common(args), from_args(C.LocalisationConfig, args), args.tuned, args.out)
    print(format_summary(result))
    print(f"wrote {args.out}/localisation.json and localisation.png")


def _steer(args: argparse.Namespace) -> None:
    from .experiments.steer import format_summary, run_steer

    result = run_steer(_common(args), from_args(C.SteerConfig, args), from_args(C.FinetuneConfig, args), args.out,
                       finetuned=args.tuned)
    print(format_summary(result))
    print(f"wrote {args.out}/steer.json and the steered model {result.spec}")


def _study_layers(args: argparse.Namespace) -> None:
    from .experiments.study import format_summary, run_layer_study

    finetune = from_args(C.FinetuneConfig, args)
    result = run_layer_study(_common(args), finetune, from_args(C.StudyConfig, args), args.out, selection=args.selection)
    print(format_summary(result))
    print(f"wrote {args.out}/study.json, study.md, study.csv and study.png")


def _study_recipes(args: argparse.Namespace) -> None:
    from .experiments.recipes import format_summary, run_recipes

    finetune = from_args(C.FinetuneConfig, args)
    result = run_recipes(_common(args), finetune, from_args(C.RecipesConfig, args), args.out, selection=args.selection)
    print(format_summary(result))
    print(f"wrote {args.out}/recipes.json, recipes.md and forms.png")


def _world_train(args: argparse.Namespace) -> None:
    from .experiments.world import run_world_training

    card = run_world_training(from_args(C.WorldTrainConfig, args), args.out)
    print(card["metrics"])


def _world_export(args: argparse.Namespace) -> None:
    from .experiments.world import export_world

    folder = export_world(args.out, args.n)
    print(f"wrote {args.n} held-out world scenes to {folder} (COCO format, PNG images)")


def _run(args: argparse.Namespace) -> None:
    from .experiments.run import run

    status = run(_run_config(args), args.out)
    print("run: " + ", ".join(f"{k} {v}" for k, v in status.items()))


def _run_config(args: argparse.Namespace) -> C.RunConfig:
    """The TOML (or the defaults), shrunk by --quick, then the shared-setting flags and --set overrides given."""
    cfg = C.load_config(args.config)
    cfg = C.quick(cfg) if args.quick else cfg
    flags = {f: getattr(args, f) for f in C.Common.__dataclass_fields__ if getattr(args, f) is not None}
    return C.with_overrides(cfg, flags | C.parse_overrides(args.set))


def _report(args: argparse.Namespace) -> None:
    from .experiments.report import write_report

    html, md = write_report(args.from_dir)
    print(f"wrote {html} and {md}")


def _stage(sub: argparse._SubParsersAction, name: str, help: str, func: Callable, *configs: type,
           several_models: bool = False, out: str = "output folder", skip: Iterable[str] = ()) -> argparse.ArgumentParser:
    """A stage's parser: the shared settings, `--out`, then the flags of each config (earlier configs win a clash)."""
    p = sub.add_parser(name, help=help, description=help)
    if several_models:
        p.add_argument("--model", action="append", default=None, help=f"{C.MODEL_HELP}; repeat to compare models")
    add_arguments(p, C.Common, skip=("model",) if several_models else ())
    p.add_argument("--out", required=True, help=out)
    taken = {f for f in C.Common.__dataclass_fields__} | set(skip)
    for cfg in configs:
        names = {f for f in cfg.__dataclass_fields__}
        add_arguments(p, cfg, skip=taken)
        taken |= names
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every negscope stage."""
    p = argparse.ArgumentParser(prog="negscope", description="Find where CLIP represents negation, and fix it.")
    sub = p.add_subparsers(dest="command", required=True)

    _stage(sub, "negations", "the negated captions every stage reads: a sample, and the captions skipped and why",
           _runs("negations", "run_negations", C.NegationsConfig, "negations.json, negations.md and negations.csv"),
           C.NegationsConfig)
    _stage(sub, "similarity", "seed Table 1: positive vs 'This is not ...' similarity",
           _runs("similarity", "run_similarity", C.SimilarityConfig, "similarity.json, similarity.csv and figures", True),
           C.SimilarityConfig, several_models=True)
    _stage(sub, "probe", "per-site linear probes for negation, with controls and baselines",
           _runs("probe", "run_probes", C.ProbesConfig, "probes.json, probes.csv and figures"), C.ProbesConfig,
           out="output folder (activation stores are resumed from it)")
    _stage(sub, "attribute", "token and per-site integrated gradients of the negation effect",
           _runs("attribute", "run_attribution", C.AttributionConfig, "attribution.json, figures and token_heatmap.html"),
           C.AttributionConfig)
    _stage(sub, "patch", "activation patching between positive and negated captions, per site",
           _runs("patch", "run_patching", C.PatchingConfig, "patching.json and patching.png"), C.PatchingConfig)
    _stage(sub, "heads", "per attention head: patching, zero and mean ablation, attention to the negator",
           _runs("heads", "run_heads", C.HeadsConfig, "heads.json, heads.csv and heads.png"), C.HeadsConfig)
    _stage(sub, "erase", "LEACE erasure of the negated concept per site: what the negation effect loses",
           _runs("erase", "run_erasure", C.ErasureConfig, "erasure.json and erasure.png"), C.ErasureConfig)
    _stage(sub, "evaluate", "presence/absence accuracy, MCQ, retrieval and the seed table per model",
           _runs("evaluate", "run_evaluate", C.EvaluateConfig, "evaluation.json, comparison.md and comparison.csv", True),
           C.EvaluateConfig, several_models=True)

    se = sub.add_parser("select", help="rank text blocks from probes, attribution, patching and erasure; write the freeze plan")
    se.add_argument("--from", dest="src", required=True,
                    help="folder holding probes.json, attribution.json, patching.json and erasure.json")
    se.add_argument("--out", default=None, help="output folder (default: the --from folder)")
    se.set_defaults(default_out=lambda a: a.src)
    add_arguments(se, C.SelectionConfig)
    se.set_defaults(func=_select)

    ft = _stage(sub, "finetune", "Omni-NegCLIP fine-tuning of chosen text blocks (torchrun for many processes)",
                _finetune, C.FinetuneConfig, out="folder for the fine-tuned model, its checkpoint and train.json")
    ft.add_argument("--selection", default=None, help="selection.json for --blocks auto")
    ft.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")

    st = _stage(sub, "steer", "a training-free fix: steer a negation direction at the site and strength chosen on the "
                "validation split; writes a steered model folder for --model", _steer, C.SteerConfig, C.FinetuneConfig,
                skip=[f for f in C.FinetuneConfig.__dataclass_fields__ if f not in C.STEER_READS])
    st.add_argument("--tuned", default=None, help="a fine-tuned model folder to write the same steering on (in OUT/both)")
    lo = _stage(sub, "localise", "patching and erasure on a fine-tuned model against --model: per block, the change",
                _localise, C.LocalisationConfig)
    lo.add_argument("--tuned", required=True, help="the fine-tuned model's folder (the --out of negscope finetune)")

    st = sub.add_parser("study", help="studies built from several fine-tuning runs")
    stsub = st.add_subparsers(dest="study_command", required=True)
    sl = _stage(stsub, "layers", "fine-tune front/middle/back/all/selected text blocks alike and compare", _study_layers,
                C.StudyConfig, C.FinetuneConfig, out="output folder; finished sets are reused while their inputs match",
                skip=("blocks",))
    sl.add_argument("--selection", default=None, help="selection.json of the analysis, to add the selected set")
    sr = _stage(stsub, "recipes", "fine-tune recipes ('lr=1e-4', 'forms=no', 'lora_rank=8') alike; trained × tested forms",
                _study_recipes, C.RecipesConfig, C.FinetuneConfig,
                out="output folder; finished recipes are reused while their inputs match")
    sr.add_argument("--selection", default=None, help="selection.json for --blocks auto")

    r = sub.add_parser("run", help="every stage from data to report; complete stages are skipped on rerun")
    r.add_argument("--config", default=None, help="TOML config (see configs/default.toml); default: built-in defaults")
    r.add_argument("--out", default=None, help="run folder; default runs/<name> (runs/<name>-quick with --quick)")
    r.add_argument("--quick", action="store_true", help="small sizes and no layer study: a smoke run in minutes")
    add_arguments(r, C.Common)
    r.set_defaults(**dict.fromkeys(C.Common.__dataclass_fields__))  # a flag not given leaves the config's value
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, dotted for a stage's (finetune.steps=60, probes.limit=100, seed=1), "
                        "checked like the TOML; repeatable; applied after --config, --quick and the flags above")
    r.set_defaults(func=_run, default_out=lambda a: f"runs/{_run_config(a).name}{'-quick' if a.quick else ''}")

    rp = sub.add_parser("report", help="rebuild report.html and report.md of a run folder")
    rp.add_argument("--from", dest="from_dir", required=True, help="the run folder (the --out of negscope run)")
    rp.set_defaults(func=_report)

    m = sub.add_parser("models", help="list the named backbones (the seed study's five and SigLIP)")
    m.add_argument("--load", default=None, metavar="SPEC", help="load this --model spec and describe it instead")
    m.set_defaults(func=_models)

    w = sub.add_parser("world", help="the shapes world and its CLIP")
    wsub = w.add_subparsers(dest="world_command", required=True)
    wt = wsub.add_parser("train", help="pretrain a world CLIP on positive captions only")
    wt.add_argument("--out", required=True, help="folder for the model (Hugging Face layout)")
    add_arguments(wt, C.WorldTrainConfig)
    wt.set_defaults(func=_world_train)
    we = wsub.add_parser("export", help="write held-out world scenes as a COCO-format folder with lossless PNG images")
    we.add_argument("--out", required=True, help="folder to write (annotations/ and val2017/)")
    we.add_argument("--n", type=int, default=1000, help="number of held-out scenes (default: 1000, the 'world' data)")
    we.set_defaults(func=_world_export)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `negscope` console script; errors print one line and exit 2. The output folder is checked
    and locked before any work starts."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "out", None) is None and hasattr(args, "default_out"):
            args.out = args.default_out(args)
        with out_folder(args.out) if getattr(args, "out", None) else nullcontext():
            args.func(args)
    except ERRORS as err:
        print(f"negscope {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"negscope {args.command}: interrupted; results written so far are kept, rerun to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
