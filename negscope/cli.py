"""`negscope <stage> ...`: parses arguments and calls `negscope.experiments`."""

from __future__ import annotations

import argparse
import sys


def _similarity(args: argparse.Namespace) -> None:
    from .experiments.similarity import format_table, run_similarity

    rows = run_similarity(args.model, args.data, args.out, limit=args.limit, strict=args.strict, seed=args.seed)
    print(format_table(rows))
    print(f"wrote {args.out}/similarity.json, similarity.csv and figures")


def _evaluate(args: argparse.Namespace) -> None:
    from .experiments.evaluate import comparison_markdown, run_evaluate

    rows = run_evaluate(args.model, args.data, args.out, limit=args.limit, strict=args.strict, seed=args.seed)
    print(comparison_markdown(rows))
    print(f"wrote {args.out}/evaluation.json, comparison.md and comparison.csv")


def _finetune(args: argparse.Namespace) -> None:
    from dataclasses import fields

    from .experiments.finetune import run_finetune
    from .finetune.trainer import NonFiniteLoss, TrainConfig

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    try:
        summary = run_finetune(args.model, args.data, args.layers, args.out, cfg, selection=args.selection,
                               resume=args.resume, pool=args.pool)
    except NonFiniteLoss as err:
        raise SystemExit(f"negscope finetune: error: {err}") from None
    print(f"fine-tuned text blocks {summary['layers']} for {cfg.steps} steps in {summary['train_seconds']:.0f} s; "
          f"final loss {summary['final_loss']:.3f}; wrote {args.out} and {args.out}/train.json")


def _world_train(args: argparse.Namespace) -> None:
    from .experiments.world import WorldTrainConfig, train_world

    card = train_world(WorldTrainConfig(out=args.out, size=args.size, steps=args.steps, batch_size=args.batch_size, seed=args.seed))
    print(card["metrics"])


def _run(args: argparse.Namespace) -> None:
    from .experiments.config import load_config, quick
    from .experiments.run import run

    cfg = load_config(args.config)
    if args.quick:
        cfg = quick(cfg)
    out = args.out or f"runs/{cfg.name}{'-quick' if args.quick else ''}"
    status = run(cfg, out)
    print("run: " + ", ".join(f"{k} {v}" for k, v in status.items()))


def _report(args: argparse.Namespace) -> None:
    from .reports.report import build_report

    html, md = build_report(args.from_dir)
    print(f"wrote {html} and {md}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every negscope stage."""
    from dataclasses import fields

    from .finetune.trainer import TrainConfig

    p = argparse.ArgumentParser(prog="negscope", description="Find where CLIP represents negation, and fix it.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("similarity", help="seed Table 1: positive vs 'This is not ...' similarity")
    s.add_argument("--model", action="append", required=True, help="world, tiny, a hub id or a local folder; repeatable")
    s.add_argument("--data", default="world", help="world, world[:N] or a COCO-format folder")
    s.add_argument("--limit", type=int, default=None, help="use at most N images")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--strict", action="store_true", help="stop at the first bad image instead of skipping it")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_similarity)

    e = sub.add_parser("evaluate", help="presence/absence accuracy, MCQ, retrieval and the seed table per model")
    e.add_argument("--model", action="append", required=True, help="repeat to compare models (first = before)")
    e.add_argument("--data", default="world", help="world, world[:N] or a COCO-format folder")
    e.add_argument("--limit", type=int, default=None, help="use at most N images")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--strict", action="store_true", help="stop at the first bad image instead of skipping it")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=_evaluate)

    r = sub.add_parser("run", help="every stage from data to report; complete stages are skipped on rerun")
    r.add_argument("--config", default=None, help="TOML config (see configs/default.toml); default: built-in defaults")
    r.add_argument("--out", default=None, help="run folder; default runs/<name> (runs/<name>-quick with --quick)")
    r.add_argument("--quick", action="store_true", help="small sizes and no layer study: a smoke run in minutes")
    r.set_defaults(func=_run)

    rp = sub.add_parser("report", help="rebuild report.html and report.md of a run folder")
    rp.add_argument("--from", dest="from_dir", required=True, help="the run folder (the --out of negscope run)")
    rp.set_defaults(func=_report)

    ft = sub.add_parser("finetune", help="Omni-NegCLIP fine-tuning of chosen text blocks (torchrun for many processes)")
    ft.add_argument("--model", default="world", help="world, tiny, a hub id or a local folder")
    ft.add_argument("--data", default="world",
                    help="world / world[:N] (training split), a COCO-format folder, or a CSV with columns "
                         "image,caption,negated_caption (CC-Neg) and/or absence_caption (NegationCLIP)")
    ft.add_argument("--layers", default="front",
                    help="auto (from --selection), front, middle, back (thirds of the text blocks), all, or indices 0,1,2")
    ft.add_argument("--selection", default=None, help="selection.json for --layers auto")
    ft.add_argument("--out", required=True, help="folder for the fine-tuned model, its checkpoint and train.json")
    ft.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    ft.add_argument("--pool", type=int, default=10000, help="training scenes for --data world")
    for f in fields(TrainConfig):
        ft.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                        help=f"(default: {f.default})")
    ft.set_defaults(func=_finetune)

    w = sub.add_parser("world", help="the shapes world and its CLIP")
    wsub = w.add_subparsers(dest="world_command", required=True)
    wt = wsub.add_parser("train", help="pretrain a world CLIP on positive captions only")
    wt.add_argument("--out", required=True, help="folder for the model (Hugging Face layout)")
    wt.add_argument("--size", default="world", choices=["world", "tiny"])
    wt.add_argument("--steps", type=int, default=2000)
    wt.add_argument("--batch-size", type=int, default=160)
    wt.add_argument("--seed", type=int, default=0)
    wt.set_defaults(func=_world_train)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `negscope` console script; errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, IndexError, KeyError, FileNotFoundError) as err:
        print(f"negscope {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"negscope {args.command}: interrupted; results written so far are kept, rerun to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
