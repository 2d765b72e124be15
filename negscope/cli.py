"""`negscope <stage> ...`: parses arguments and calls `negscope.experiments`."""

from __future__ import annotations

import argparse
import sys


def _similarity(args: argparse.Namespace) -> None:
    from .experiments.similarity import format_table, run_similarity

    rows = run_similarity(args.model, args.data, args.out, limit=args.limit, strict=args.strict, seed=args.seed)
    print(format_table(rows))
    print(f"wrote {args.out}/similarity.json, similarity.csv and figures")


def _probe(args: argparse.Namespace) -> None:
    from .experiments.probe import ProbeConfig, format_summary, run_probe

    cfg = ProbeConfig(model=args.model, out=args.out, data=args.data, limit=args.limit, folds=args.folds,
                      captions_per_image=args.captions_per_image, dtype=args.dtype, seed=args.seed)
    payload = run_probe(cfg)
    print(format_summary(payload))
    print(f"wrote {args.out}/probes.json, probes.csv and figures in {payload['seconds']:.0f} s")


def _evaluate(args: argparse.Namespace) -> None:
    from .experiments.evaluate import comparison_markdown, run_evaluate

    rows = run_evaluate(args.model, args.data, args.out, limit=args.limit, strict=args.strict, seed=args.seed)
    print(comparison_markdown(rows))
    print(f"wrote {args.out}/evaluation.json, comparison.md and comparison.csv")


def _finetune(args: argparse.Namespace) -> None:
    from dataclasses import fields

    from .experiments.finetune import run_finetune
    from .finetune.trainer import TrainConfig

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    summary = run_finetune(args.model, args.data, args.blocks, args.out, cfg, selection=args.selection,
                           resume=args.resume, pool=args.pool)
    print(f"fine-tuned text blocks {summary['blocks']} for {cfg.steps} steps in {summary['train_seconds']:.0f} s; "
          f"final loss {summary['final_loss']:.3f}; wrote {args.out} and {args.out}/train.json")


def _attribute(args: argparse.Namespace) -> None:
    from .experiments.attribute import run_attribution

    res = run_attribution(args.model, args.data, args.out, limit=args.limit, steps=args.steps, examples=args.examples, seed=args.seed)
    shares = ", ".join(f"{t} {v['mean']:.2f}" for t, v in res["tokens"]["negation_share"].items())
    print(f"token attribution share on negation words: {shares}")
    print("block importance: " + " ".join(f"{b['block']}:{b['mean']:+.2f}" for b in res["layers"]["blocks"]))
    print(f"wrote {args.out}/attribution.json, figures and token_heatmap.html in {res['seconds']} s")


def _patch(args: argparse.Namespace) -> None:
    from .experiments.patch import run_patching

    res = run_patching(args.model, args.data, args.out, limit=args.limit, all_tokens=args.all_tokens, pairs=args.pairs, seed=args.seed)
    for direction, rows in res["curves"]["eos"].items():
        print(f"EOS patching, {direction}: " + " ".join(f"{r['site']}:{r['share']:.2f}" for r in rows))
    print(f"wrote {args.out}/patching.json and patching.png in {res['seconds']} s")


def _select(args: argparse.Namespace) -> None:
    from .experiments.select import run_selection

    src = args.src
    sel = run_selection(src, src, src, args.out or src, coverage=args.coverage, rule=args.rule, seed=args.seed)
    print(f"selected text blocks {sel['blocks']} by {sel['rule']}")
    print(f"ranking: {[r['block'] for r in sel['ranking']]}; evidence: {sel['evidence']['kinds']}")
    print(f"wrote {args.out or src}/selection.json and selection.png")


def _study_layers(args: argparse.Namespace) -> None:
    from .experiments.study import run_layer_study, study_markdown
    from .finetune.trainer import TrainConfig

    cfg = TrainConfig(seed=args.seed) if args.steps is None else TrainConfig(seed=args.seed, steps=args.steps)
    result = run_layer_study(args.model, args.data, args.out, eval_data=args.eval_data, eval_limit=args.limit,
                             selection=args.selection, cfg=cfg)
    print(study_markdown(result))
    print(f"wrote {args.out}/study.json, study.md, study.csv and study.png")


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


def _models_and_data(parser: argparse.ArgumentParser, model_help: str) -> None:
    parser.add_argument("--model", action="append", required=True, help=model_help)
    parser.add_argument("--data", default="world", help="world, world[:N] or a COCO-format folder")
    parser.add_argument("--limit", type=int, default=None, help="use at most N images")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad image instead of skipping it")
    parser.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every negscope stage."""
    from dataclasses import fields

    from .finetune.trainer import TrainConfig

    p = argparse.ArgumentParser(prog="negscope", description="Find where CLIP represents negation, and fix it.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("similarity", help="seed Table 1: positive vs 'This is not ...' similarity")
    _models_and_data(s, "world, tiny, a hub id or a local folder; repeatable")
    s.set_defaults(func=_similarity)

    pr = sub.add_parser("probe", help="layer-wise linear probes for negation, with controls and baselines")
    pr.add_argument("--model", required=True, help="world, tiny, a hub id or a local folder")
    pr.add_argument("--data", default="world", help="world, world[:N] or a COCO-format folder")
    pr.add_argument("--limit", type=int, default=None, help="use at most N images")
    pr.add_argument("--out", required=True, help="output folder (activation stores are resumed from it)")
    pr.add_argument("--folds", type=int, default=5, help="outer grouped cross-validation folds")
    pr.add_argument("--captions-per-image", type=int, default=1, help="source captions used per image")
    pr.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="dtype of stored states")
    pr.add_argument("--seed", type=int, default=0)
    pr.set_defaults(func=_probe)

    e = sub.add_parser("evaluate", help="presence/absence accuracy, MCQ, retrieval and the seed table per model")
    _models_and_data(e, "repeat to compare models (first = before)")
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
    ft.add_argument("--blocks", default="front",
                    help="auto (from --selection), front, middle, back (thirds of the text blocks), all, or indices 0,1,2")
    ft.add_argument("--selection", default=None, help="selection.json for --blocks auto")
    ft.add_argument("--out", required=True, help="folder for the fine-tuned model, its checkpoint and train.json")
    ft.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    ft.add_argument("--pool", type=int, default=10000, help="training scenes for --data world")
    for f in fields(TrainConfig):
        ft.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                        help=f"(default: {f.default})")
    ft.set_defaults(func=_finetune)

    a = sub.add_parser("attribute", help="token and per-layer integrated gradients of the negation effect")
    a.add_argument("--model", default="world", help="world, tiny, a hub id or a local folder")
    a.add_argument("--data", default="world", help="world, world[:N] or a COCO-format folder")
    a.add_argument("--limit", type=int, default=64, help="use at most N images (one caption each)")
    a.add_argument("--steps", type=int, default=32, help="integration steps of integrated gradients")
    a.add_argument("--examples", type=int, default=8, help="captions shown in the token heatmap (all seven templates each)")
    a.add_argument("--out", required=True, help="output folder")
    a.add_argument("--seed", type=int, default=0)
    a.set_defaults(func=_attribute)

    pa = sub.add_parser("patch", help="activation patching between positive and negated captions, per layer")
    pa.add_argument("--model", default="world", help="world, tiny, a hub id or a local folder")
    pa.add_argument("--data", default="world", help="world, world[:N] or a COCO-format folder")
    pa.add_argument("--limit", type=int, default=200, help="use at most N images (one pair each)")
    pa.add_argument("--pairs", default="presence", choices=["presence", "seed"],
                    help="presence: 'a X' -> 'no X' (equal length); seed: caption -> 'This is not ' + caption")
    pa.add_argument("--all-tokens", action="store_true", help="also patch all token states (equal-length pairs only)")
    pa.add_argument("--out", required=True, help="output folder")
    pa.add_argument("--seed", type=int, default=0)
    pa.set_defaults(func=_patch)

    se = sub.add_parser("select", help="rank text blocks from probes, attribution and patching; write the freeze plan")
    se.add_argument("--from", dest="src", required=True, help="folder holding attribution.json, patching.json, probes.json")
    se.add_argument("--out", default=None, help="output folder (default: the --from folder)")
    se.add_argument("--coverage", type=float, default=0.5, help="share of the negation effect the plan must cover")
    se.add_argument("--rule", default="front", choices=["front", "top"], help="front: blocks 0..m; top: best-ranked blocks")
    se.add_argument("--seed", type=int, default=0, help="seed of the bootstrap stability check")
    se.set_defaults(func=_select)

    st = sub.add_parser("study", help="studies built from several fine-tuning runs")
    stsub = st.add_subparsers(dest="study_command", required=True)
    sl = stsub.add_parser("layers", help="fine-tune front/middle/back/all/selected text blocks alike and compare")
    sl.add_argument("--model", default="world", help="world, tiny, a hub id or a local folder")
    sl.add_argument("--data", default="world", help="training data, as for negscope finetune")
    sl.add_argument("--eval-data", default="world", help="evaluation data: world[:N] or a COCO-format folder")
    sl.add_argument("--limit", type=int, default=1000, help="evaluate on at most N images")
    sl.add_argument("--selection", default=None, help="selection.json of the analysis, to add the selected set")
    sl.add_argument("--out", required=True, help="output folder; finished sets are reused on rerun")
    sl.add_argument("--steps", type=int, default=None, help="fine-tuning steps per set (default: the trainer's)")
    sl.add_argument("--seed", type=int, default=0)
    sl.set_defaults(func=_study_layers)

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
    except (ValueError, IndexError, KeyError, FileNotFoundError, FloatingPointError) as err:
        print(f"negscope {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"negscope {args.command}: interrupted; results written so far are kept, rerun to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
