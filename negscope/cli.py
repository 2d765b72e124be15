"""`negscope <stage> ...`: parses arguments and calls `negscope.experiments`."""

from __future__ import annotations

import argparse
import sys


def _similarity(args: argparse.Namespace) -> None:
    from .experiments.similarity import format_table, run_similarity

    rows = run_similarity(args.model, args.data, args.out, limit=args.limit, strict=args.strict, seed=args.seed)
    print(format_table(rows))
    print(f"wrote {args.out}/similarity.json, similarity.csv and figures")


def _world_train(args: argparse.Namespace) -> None:
    from .experiments.world import WorldTrainConfig, train_world

    card = train_world(WorldTrainConfig(out=args.out, size=args.size, steps=args.steps, batch_size=args.batch_size, seed=args.seed))
    print(card["metrics"])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every negscope stage."""
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
